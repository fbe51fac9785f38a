# One JSON object a line, each written as soon as it is answered: jq picks the fields.
rnnshape sweep --mode lstm --hidden-size 16,32 --layers 1..2 --bidirectional --unidirectional -f jsonl |
  jq -c '{H: .config.hidden_size, layers: .config.num_layers, bidirectional: .config.bidirectional, params: .total_parameters}'
