"""RNNSpec's fields and defaults: nn.RNN's constructor arguments, then the dummy run's."""

from dataclasses import fields

from rnnshape import RNNSpec

for field in fields(RNNSpec):
    print(f"{field.name:15} = {field.default!r}")
