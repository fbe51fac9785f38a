# Scripting with rnnshape: JSON on stdout, one `error:` line on stderr, and exit codes.
for flags in "--mode lstm --layers 2" "--mode gru --proj-size 5"; do
  out=$(rnnshape inspect $flags -f json 2>/dev/null)
  case $? in
    0) echo "$flags: h_n $(printf '%s' "$out" | python -c 'import json, sys; print(json.load(sys.stdin)["tensors"]["h_n"]["shape"])')" ;;
    1) echo "$flags: a check failed: torch disagrees with the formulas" ;;
    2) echo "$flags: refused: $(rnnshape inspect $flags 2>&1 >/dev/null)" ;;
    3) echo "$flags: this machine cannot run it (device or memory)" ;;
  esac
done
