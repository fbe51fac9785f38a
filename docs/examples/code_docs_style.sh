# Section 5 of a 2-layer RNN's script in the docs style: the loop of nn.RNN's documentation.
rnnshape code --layers 2 --input-size 3 --hidden-size 4 --style docs | sed -n '/^# ---- 5\./,/^ref_output/p'
