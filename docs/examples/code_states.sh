# --h0 and --c0 set the initial states the script feeds, in either style; the check against torch still runs.
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT || exit 1
rnnshape code --mode lstm --h0 ones --c0 zeros --style docs > "$tmp/lstm_states.py"
grep -E '^(h_0|c_0) = ' "$tmp/lstm_states.py"
python "$tmp/lstm_states.py"
echo "exit $?"
