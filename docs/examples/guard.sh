# The memory guard: refused before anything is allocated (exit 3), never an OOM kill.
huge="--mode lstm --input-size 4096 --hidden-size 8192 --layers 16 --bidirectional"

rnnshape inspect $huge --max-memory 2GB 2>&1
echo "exit $?"

# The same layer on meta: shapes and counts, no weights allocated.
rnnshape inspect $huge --device meta -f json | python -c '
import json, sys
report = json.load(sys.stdin)
print("total_parameters", report["total_parameters"], "output", report["tensors"]["output"]["shape"])'
