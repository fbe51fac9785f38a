"""What each cost count includes: the conventions, from rnnshape.cost itself."""

from rnnshape import RNNSpec, cost

spec = RNNSpec(mode="lstm", input_size=10, hidden_size=20, num_layers=2, proj_size=5)
for item in cost.costs(spec):
    print(f"{item.name} ({item.unit}) = {item.formula}")
    print(f"    {item.substituted}")
    print(f"    counts: {item.convention}")
