"""The Python API: inspect() returns a Report; to_dict() is the JSON that `-f json` prints."""

from rnnshape import RNNSpec, SpecError, inspect

report = inspect(RNNSpec(mode="lstm", hidden_size=20, num_layers=2, proj_size=5))
data = report.to_dict()
for name, tensor in data["tensors"].items():
    print(f"{name:7} {str(tensor['shape']):12} {tensor['dims']}")
print("parameters:", data["total_parameters"], "=", data["count_formula_substituted"])
print("every check held:", report.ok)

try:
    RNNSpec(mode="gru", proj_size=5)
except SpecError as exc:  # invalid specs name the field, before torch is imported
    print(f"refused: {exc.field}: {exc}")
