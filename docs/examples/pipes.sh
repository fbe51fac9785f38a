# Piped, rnnshape writes no colour codes and lines of at most 100 columns, whatever the terminal.
unset COLUMNS NO_COLOR
widest() { python -c 'import sys; print(max(len(line.rstrip("\n")) for line in sys.stdin), "columns")'; }
rnnshape inspect --mode lstm --layers 2 --bidirectional | widest
echo "$(rnnshape inspect --mode lstm --layers 2 --bidirectional | grep -c $'\033') lines with escape codes"
# COLUMNS sets another width for a pipe.
COLUMNS=72 rnnshape inspect --mode lstm --layers 2 --bidirectional | widest
