# stdout holds the answer only; every diagnostic goes to stderr (kept in files in a temporary folder).
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT && cd "$tmp" || exit 1
rnnshape inspect --mode gru --proj-size 5 > out.txt 2> err.txt
echo "exit $?: stdout $(wc -c < out.txt) bytes, stderr: $(cat err.txt)"
rnnshape sweep --mode rnn,gru --proj-size 0,5 -f csv > rows.csv 2> err.txt
echo "exit $?: stdout $(wc -l < rows.csv) lines, stderr: $(cat err.txt)"
