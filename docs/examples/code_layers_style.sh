# Section 5 of the same script in the layers style (the default): one layer at a time.
rnnshape code --layers 2 --input-size 3 --hidden-size 4 --style layers | sed -n '/^# ---- 5\./,/^ref_h_n/p'
