"""Validate rnnshape's JSON against its own schema before relying on it (pip install jsonschema)."""

import json
import subprocess

from jsonschema import Draft202012Validator


def rnnshape(*args: str) -> dict:
    return json.loads(subprocess.run(["rnnshape", *args], capture_output=True, text=True, check=True).stdout)


validator = Draft202012Validator(rnnshape("schema", "inspect"))
report = rnnshape("inspect", "--mode", "lstm", "--layers", "2", "--proj-size", "5", "-f", "json")
print("inspect output valid:", validator.is_valid(report))
del report["tensors"]["h_n"]  # what a script would trip over: the schema names it
error = next(validator.iter_errors(report))
print("without h_n: valid:", validator.is_valid(report), "- the error is at", error.json_path)
