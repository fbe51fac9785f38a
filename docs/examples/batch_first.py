"""batch_first moves N first in input and output only; the states keep (D*num_layers, N, H)."""

from rnnshape import RNNSpec, inspect

for batch_first in (False, True):
    tensors = inspect(RNNSpec(mode="lstm", batch_first=batch_first)).to_dict()["tensors"]
    print(f"batch_first={batch_first}")
    for name, t in tensors.items():
        print(f"  {name:7} {str(t['shape']):12} {' x '.join(t['dims'])}")
