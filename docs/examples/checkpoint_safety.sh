# A checkpoint from a stranger: its pickle would run a command. rnnshape refuses it
# (exit 2, one line on stderr) and nothing from the file runs: no marker appears.
rm -f /tmp/rnnshape-pwned
python - <<'PY'
import os, torch, warnings
warnings.filterwarnings("ignore")
class Payload:
    def __reduce__(self):  # what unpickling would call: os.system("touch /tmp/rnnshape-pwned")
        return (os.system, ("touch /tmp/rnnshape-pwned",))
torch.save({"model": {"rnn.weight_ih_l0": torch.zeros(4, 3)}, "hook": Payload()}, "/tmp/stranger.pt")
PY
rnnshape checkpoint /tmp/stranger.pt 2>&1; echo "exit $?"
test -e /tmp/rnnshape-pwned && echo "the payload ran" || echo "no /tmp/rnnshape-pwned: the payload never ran"
# What is not a checkpoint, or not a whole one, is refused in one line too.
printf '' > /tmp/empty.pt; rnnshape checkpoint /tmp/empty.pt 2>&1; echo "exit $?"
head -c 20000 docs/examples/seq2seq.pt > /tmp/cut.pt; rnnshape checkpoint /tmp/cut.pt 2>&1; echo "exit $?"
# A file with no recurrent layer is an answer, not an error (exit 0).
python -c 'import torch; torch.save({"fc.weight": torch.zeros(3, 4)}, "/tmp/linear.pt")' 2>/dev/null
rnnshape checkpoint /tmp/linear.pt; echo "exit $?"
