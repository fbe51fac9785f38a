# What every recurrent layer in a checkpoint is, one line each: JSON and a few lines of Python.
rnnshape checkpoint docs/examples/seq2seq.pt --no-run -f json | python -c '
import json, sys
for layer in json.load(sys.stdin)["layers"]:
    print(layer["name"], "=", layer["module"], "with", layer["total_parameters"], "parameters")'
