# seed 001's parameter is spelt intput: rnnshape cannot give it anything, and says so (exit 2).
rnnshape verify --mode rnn --input-size 2 --hidden-size 3 --batch-first --batch-size 2 --seq-len 3 \
    --against docs/examples/forward_typo.py:rnn_forward 2>&1
echo "exit $?"
