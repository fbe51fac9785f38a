# Refused before torch is even imported: one `error:` line on stderr naming the flag.
rnnshape inspect --hidden-size 0 2>&1; echo "exit $?"
rnnshape inspect --mode gru --proj-size 5 2>&1; echo "exit $?"
# Valid, but more than this machine may hold (here a limit of 100 MB): exit 3, nothing allocated.
rnnshape inspect --hidden-size 4096 --layers 8 --max-memory 100MB 2>&1; echo "exit $?"
