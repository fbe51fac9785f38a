# A tolerance of zero: float32 is not float64, so verify fails (exit 1).
# The report goes to stdout (thrown away here); the one `failed:` line to stderr.
rnnshape verify --mode gru --atol 0 --rtol 0 2>&1 >/dev/null
echo "exit $?"
