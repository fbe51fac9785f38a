# A checkpoint from a stranger: its pickle would run a command. rnnshape refuses it
# (exit 2, one line on stderr) and nothing from the file runs: no marker appears.
# Every file goes into a fresh temporary folder, removed at the end.
seq2seq="$PWD/docs/examples/seq2seq.pt"
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT && cd "$tmp" || exit 1
python - <<'PY'
import os, torch, warnings
warnings.filterwarnings("ignore")
class Payload:
    def __reduce__(self):  # what unpickling would call: os.system("touch rnnshape-pwned")
        return (os.system, ("touch rnnshape-pwned",))
torch.save({"model": {"rnn.weight_ih_l0": torch.zeros(4, 3)}, "hook": Payload()}, "stranger.pt")
PY
rnnshape checkpoint stranger.pt 2>&1; echo "exit $?"
test -e rnnshape-pwned && echo "the payload ran" || echo "no rnnshape-pwned: the payload never ran"
# What is not a checkpoint, or not a whole one, is refused in one line too.
printf '' > empty.pt; rnnshape checkpoint empty.pt 2>&1; echo "exit $?"
head -c 20000 "$seq2seq" > cut.pt; rnnshape checkpoint cut.pt 2>&1; echo "exit $?"
# A file with no recurrent layer is an answer, not an error (exit 0).
python -c 'import torch; torch.save({"fc.weight": torch.zeros(3, 4)}, "linear.pt")' 2>/dev/null
rnnshape checkpoint linear.pt; echo "exit $?"
