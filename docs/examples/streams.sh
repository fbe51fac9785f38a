# stdout holds the answer only; every diagnostic goes to stderr.
rnnshape inspect --mode gru --proj-size 5 > /tmp/out.txt 2> /tmp/err.txt
echo "exit $?: stdout $(wc -c < /tmp/out.txt) bytes, stderr: $(cat /tmp/err.txt)"
rnnshape sweep --mode rnn,gru --proj-size 0,5 -f csv > /tmp/rows.csv 2> /tmp/err.txt
echo "exit $?: stdout $(wc -l < /tmp/rows.csv) lines, stderr: $(cat /tmp/err.txt)"
