"""verify from Python: the equations, looped by hand in float64, against torch."""

from rnnshape import RNNSpec, verify

report = verify(RNNSpec(mode="gru", num_layers=2, bidirectional=True))
print(f"atol={report.atol:g} rtol={report.rtol:g} for {report.dtype}")
for c in report.comparisons:  # one per tensor, layer and direction
    print(f"  {c.tensor:6} layer {c.layer} {c.direction:7} within the tolerance: {c.ok}")
print("the equations give what nn.GRU gives:", report.ok)

# With no tolerance at all, float32 cannot match float64: where do they first part?
strict = verify(RNNSpec(mode="gru"), atol=0, rtol=0)
print("atol=0, rtol=0:", strict.ok, strict.first_divergence)
