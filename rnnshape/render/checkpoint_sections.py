"""A checkpoint report laid out as titled tables: the file, then each layer as inspect shows it.

Each layer reuses inspect's sections (tensors, packing, h_n rows, relations,
totals, checks) on its own Report; only what is new here is drawn here: how
the config was read from the keys, and the saved values' statistics.
"""

from __future__ import annotations


from rnnshape import checkpoint_file, theory
from rnnshape.checkpoint_file import IN_MEMORY
from rnnshape.checkpoint_report import CheckpointReport, LayerReport, shown
from rnnshape.language import join, tr
from rnnshape.render.sections import FAILED, Section, given_parameters_section, notes_section, shape_sections, totals_section

# The config fields the keys tell, in RNNSpec's order, then those they cannot.
_READ = ("mode", "input_size", "hidden_size", "num_layers", "bias", "bidirectional", "proj_size")


# The file's format as a person reads it (JSON's "format" keeps the English name).
FORMAT_SAID = {
    checkpoint_file.TORCH_ZIP: tr("torch.save zip archive"),
    checkpoint_file.TORCH_LEGACY: tr("torch.save legacy pickle"),
    IN_MEMORY: tr("in memory"),
}


def sections(report: CheckpointReport) -> list[Section]:
    parts = [file_section(report)]
    for layer in report.layers:
        parts += layer_sections(layer)
    if report.inconsistent:
        parts.append(inconsistent_section(report))
    return parts


def file_section(report: CheckpointReport) -> Section:
    contents = report.contents
    whole = tr("the state_dict itself") if contents.format == IN_MEMORY else tr("the file itself")
    where = join("; ", [tr("{where}: {tensors}", where=_place(s) if s.path else whole, tensors=_tensors(len(s.shapes)))
                        for s in contents.state_dicts]) or tr("none")
    found = join(", ", [join(" ", [shown(layer.name), f"(nn.{layer.report.spec.module_name})"])
                        for layer in report.layers]) or tr("none")
    rows = [[tr("format"), FORMAT_SAID.get(contents.format, contents.format)], ["state_dicts", where], [tr("recurrent"), found]]
    if report.inconsistent:
        rows.append([tr("not understood"), join(", ", [shown(group.name) for group in report.inconsistent])])
    if not report.layers and not report.inconsistent:
        rows += [[tr("holds") if i == 0 else "", line] for i, line in enumerate(contents.outline)]
    lines = list(report.notes)
    return Section(tr("checkpoint {file}", file=contents.file), ["", ""], rows, lines=lines, prose={1}, name="file")


def layer_sections(layer: LayerReport) -> list[Section]:
    return [
        config_section(layer),
        *shape_sections(layer.report),
        given_parameters_section(layer.report, tr("parameters of {layer} as saved", layer=shown(layer.name))),
        totals_section(layer.report),
        notes_section(layer.report),
    ]


def config_section(layer: LayerReport) -> Section:
    spec = layer.report.spec
    config = spec.to_dict()
    rows = [[name, str(config[name]), layer.found.evidence.get(name, "")] for name in _READ if name in layer.found.evidence]
    rows += [[name, str(config[name]), tr("assumed: {why}", why=why)] for name, why in layer.assumed.items()]
    if spec.dtype == layer.file_dtype:
        dtype = spec.dtype
    else:
        dtype = tr("{dtype} (the file holds {file_dtype})", dtype=spec.dtype, file_dtype=layer.file_dtype)
    rows += [
        [tr("dummy input"), theory.shape_text(layer.report.tensors[0].shape), "--seq-len, --batch-size, --unbatched, --lengths"],
        ["device, dtype", join(", ", [layer.report.observation.device, dtype]), "--device, --dtype"],
    ]
    count = len(layer.found.keys)
    if layer.found.prefix:
        keys = tr("{count} keys under {prefix}", count=count, prefix=layer.found.prefix)
    else:
        keys = tr("{count} keys", count=count)
    if layer.state_dict.path:
        keys = join(", ", [_place(layer.state_dict), keys])
    title = tr("{layer}: {constructor}, from {keys}", layer=shown(layer.name), constructor=theory.constructor_text(spec),
               keys=keys)
    return Section(title, [tr("config"), tr("value"), tr("read from")], rows, code={1}, prose={2}, optional=(2,), name="config")


def inconsistent_section(report: CheckpointReport) -> Section:
    rows = [[shown(group.name), problem] for group in report.inconsistent for problem in group.found.problems]
    lines = [tr("{layer} keys: {keys}", layer=shown(group.name), keys=", ".join(group.found.keys))
             for group in report.inconsistent]
    return Section(tr("{mark} keys that look recurrent but give no valid layer", mark=FAILED), [tr("layer"), tr("problem")],
                   rows, lines=lines, prose={1}, name="inconsistent")


def _place(state_dict) -> str:
    """Where in the checkpoint a state_dict sits, as code: checkpoint['model']."""
    return f"checkpoint{state_dict.where}"


def _tensors(count: int) -> str:
    return tr("{count} tensor", count=count) if count == 1 else tr("{count} tensors", count=count)
