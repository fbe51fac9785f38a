# `-f csv` is the parameter table, one row per parameter: cut, sort and awk work on it.
rnnshape inspect --mode gru --layers 2 -f csv | cut -d, -f1,4,5
# Sum a column: the parameter count again, from the numel column.
rnnshape inspect --mode gru --layers 2 -f csv | awk -F, 'NR > 1 { n += $5 } END { print "total", n }'
