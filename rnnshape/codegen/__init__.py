"""`rnnshape code`: a standalone script that rebuilds one config and checks it by hand.

script(spec) writes a Python file that needs only torch: it builds the layer as
spec describes, runs it once, recomputes output, h_n (and c_n) with an explicit
loop, and fails loudly if the two differ. The loop is written for that one
config: no `if bias:` or `if bidirectional:` branches that the config does not
take, so a learner reads only what runs.

Two styles of loop (section 5 of the script; everything else is shared, parts.py):
- layers (layers.py, the default): layer by layer, each direction's whole sequence
  before the next layer; packed input runs once per sequence, to its own length.
- docs (docs.py): the loop of PyTorch's nn.RNN documentation, time steps outside
  and layers inside, with `h_t[layer] = torch.tanh(...)`; packed input walks the
  PackedSequence layout step by step.

A cell (nn.RNNCell, nn.LSTMCell, nn.GRUCell) gets its one step recomputed from
the equations, then the loop over time that turns it into the matching layer.

No torch here: generating text needs none, and `import rnnshape.codegen` stays cheap.
"""

from __future__ import annotations

from rnnshape.codegen import docs, layers, parts
from rnnshape.codegen.parts import CELL_LOOP_STEPS, CHECK_MARKER, DEFAULT_STYLE, TOLERANCES
from rnnshape.errors import EnvironmentProblem, SpecError
from rnnshape.language import tr
from rnnshape.spec import RNNSpec

__all__ = ["CELL_LOOP_STEPS", "CHECK_MARKER", "STYLES", "TOLERANCES", "check_style", "script"]

# --style: the module that writes each style's own sections.
_STYLE_MODULES = {"layers": layers, "docs": docs}
STYLES = tuple(_STYLE_MODULES)


def check_style(style: object) -> str:
    """The style, checked (and spelled as STYLES spell it); SpecError names --style otherwise."""
    if not isinstance(style, str) or style.strip().lower() not in _STYLE_MODULES:
        raise SpecError("style", tr("must be one of {choices} (got {value!r})", choices=", ".join(STYLES), value=style))
    return style.strip().lower()


def script(spec: RNNSpec, style: str = DEFAULT_STYLE) -> str:
    """The whole script, as text, for exactly this spec (runs on the CPU), its loop in `style`."""
    style = check_style(style)
    if spec.device == "meta":
        raise EnvironmentProblem(tr(
            "--device meta: a meta tensor has a shape but no values, so the explicit loop "
            "has nothing to compare; use --device cpu (the script always runs on the CPU)"
        ))
    written = _STYLE_MODULES[style]
    head = parts.header(spec, written.title(spec), style)
    if spec.is_cell:
        sections = [
            head, parts.cell_sizes(spec), parts.cell_build(spec), parts.cell_inputs(spec), parts.cell_run(spec),
            parts.cell_to_layer(spec, written.cell_loop(spec)), written.cell_by_hand(spec), parts.check(spec, style),
        ]
    else:
        sections = [head, parts.build(spec), parts.inputs(spec), parts.run(spec, style), written.loop(spec), parts.check(spec, style)]
    return "\n".join(sections)
