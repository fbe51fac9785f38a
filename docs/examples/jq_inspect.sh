# `-f json` is one object on stdout: jq takes what a script needs.
rnnshape inspect --mode lstm --layers 2 --bidirectional -f json |
  jq -r '.tensors | to_entries[] | "\(.key)\t\(.value.shape | map(tostring) | join("x"))\t\(.value.dims | join(" x "))"'
# One number: the parameter count, and whether every check held.
rnnshape inspect --mode lstm --layers 2 --bidirectional -f json | jq '{total_parameters, ok}'
# The reverse direction's weights of layer 1, with their shapes.
rnnshape inspect --mode lstm --layers 2 --bidirectional -f json |
  jq -r '.parameters[] | select(.layer == 1 and .direction == "reverse") | "\(.name) \(.shape)"'
