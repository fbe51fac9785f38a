"""A checkpoint report laid out as titled tables: the file, then each layer as inspect shows it.

Each layer reuses inspect's sections (tensors, packing, h_n rows, relations,
totals, checks) on its own Report; only what is new here is drawn here: how
the config was read from the keys, and the saved values' statistics.
"""

from __future__ import annotations


from rnnshape import theory
from rnnshape.checkpoint_file import IN_MEMORY
from rnnshape.checkpoint_report import CheckpointReport, LayerReport, shown
from rnnshape.render.sections import FAILED, Section, given_parameters_section, notes_section, shape_sections, totals_section

# The config fields the keys tell, in RNNSpec's order, then those they cannot.
_READ = ("mode", "input_size", "hidden_size", "num_layers", "bias", "bidirectional", "proj_size")


def sections(report: CheckpointReport) -> list[Section]:
    parts = [file_section(report)]
    for layer in report.layers:
        parts += layer_sections(layer)
    if report.inconsistent:
        parts.append(inconsistent_section(report))
    return parts


def file_section(report: CheckpointReport) -> Section:
    contents = report.contents
    whole = "the state_dict itself" if contents.format == IN_MEMORY else "the file itself"
    where = "; ".join(f"checkpoint{s.where}: {_tensors(len(s.shapes))}" if s.path else f"{whole}: {_tensors(len(s.shapes))}"
                      for s in contents.state_dicts) or "none"
    found = ", ".join(f"{shown(layer.name)} (nn.{layer.report.spec.module_name})" for layer in report.layers) or "none"
    rows = [["format", contents.format], ["state_dicts", where], ["recurrent", found]]
    if report.inconsistent:
        rows.append(["not understood", ", ".join(shown(group.name) for group in report.inconsistent)])
    if not report.layers and not report.inconsistent:
        rows += [["holds" if i == 0 else "", line] for i, line in enumerate(contents.outline)]
    lines = list(report.notes)
    return Section(f"checkpoint {contents.file}", ["", ""], rows, lines=lines, prose={1}, name="file")


def layer_sections(layer: LayerReport) -> list[Section]:
    return [
        config_section(layer),
        *shape_sections(layer.report),
        given_parameters_section(layer.report, f"parameters of {shown(layer.name)} as saved"),
        totals_section(layer.report),
        notes_section(layer.report),
    ]


def config_section(layer: LayerReport) -> Section:
    spec = layer.report.spec
    config = spec.to_dict()
    rows = [[name, str(config[name]), layer.found.evidence.get(name, "")] for name in _READ if name in layer.found.evidence]
    rows += [[name, str(config[name]), f"assumed: {why}"] for name, why in layer.assumed.items()]
    dtype = spec.dtype if spec.dtype == layer.file_dtype else f"{spec.dtype} (the file holds {layer.file_dtype})"
    rows += [
        ["dummy input", theory.shape_text(layer.report.tensors[0].shape), "--seq-len, --batch-size, --unbatched, --lengths"],
        ["device, dtype", f"{layer.report.observation.device}, {dtype}", "--device, --dtype"],
    ]
    where = f"checkpoint{layer.state_dict.where}, " if layer.state_dict.path else ""
    keys = f"{where}{len(layer.found.keys)} keys" + (f" under {layer.found.prefix}" if layer.found.prefix else "")
    title = f"{shown(layer.name)}: {theory.constructor_text(spec)}, from {keys}"
    return Section(title, ["config", "value", "read from"], rows, code={1}, prose={2}, optional=(2,), name="config")


def inconsistent_section(report: CheckpointReport) -> Section:
    rows = [[shown(group.name), problem] for group in report.inconsistent for problem in group.found.problems]
    lines = [f"{shown(group.name)} keys: {', '.join(group.found.keys)}" for group in report.inconsistent]
    return Section(f"{FAILED} keys that look recurrent but give no valid layer", ["layer", "problem"], rows, lines=lines,
                   prose={1}, name="inconsistent")




def _tensors(count: int) -> str:
    return f"{count} tensor" + ("" if count == 1 else "s")
