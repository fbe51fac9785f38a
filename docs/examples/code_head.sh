# Write the script for a 2-layer GRU to a file, and show it up to the part that recomputes torch's result.
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT || exit 1
rnnshape code --mode gru --layers 2 --input-size 3 --hidden-size 4 > "$tmp/gru_by_hand.py"
sed '/^# ---- 5\./q' "$tmp/gru_by_hand.py"
