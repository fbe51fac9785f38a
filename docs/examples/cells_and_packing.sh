# Cells and packed batches from a script: what is refused, and why (exit 2, one line on stderr).
rnnshape inspect --mode lstmcell --layers 2 2>&1; echo "exit $?"
rnnshape inspect --mode grucell --seq-len 5 2>&1; echo "exit $?"
rnnshape inspect --lengths 2,5,3 2>&1; echo "exit $?"
rnnshape inspect --lengths 5,3,2 --seq-len 4 2>&1; echo "exit $?"
rnnshape inspect --lengths 5,3,2 --unbatched 2>&1; echo "exit $?"
# Unsorted lengths are fine once torch may sort them: the packing, as JSON.
rnnshape inspect --lengths 2,5,3 --no-enforce-sorted -f json |
  python -c 'import json, sys; print(json.load(sys.stdin)["packing"])'
