"""Packed input from Python: the shapes pack_padded_sequence and the layer produce."""

from rnnshape import RNNSpec, inspect

# Three sequences of lengths 2, 5 and 3, in that order: torch sorts them itself.
spec = RNNSpec(mode="lstm", input_size=3, hidden_size=4, lengths=(2, 5, 3), enforce_sorted=False)
report = inspect(spec)
data = report.to_dict()

print("N =", spec.batch_size, "and L =", spec.seq_len, "come from the lengths")
print("packing:", data["packing"])
for name in ("input", "packed_input", "packed_output", "padded_output", "h_n"):
    tensor = data["tensors"][name]
    print(f"  {name:<14} {str(tuple(tensor['shape'])):<10} {', '.join(tensor['dims'])}")
for relation in data["relations"]:
    print(f"  {relation['identity']:<48} held: {relation['held']}")
assert report.ok
