"""The parts of a generated script that both styles share: its docstring, the sizes,
building the layer (or cell), the dummy input and states, torch's own run, and the
comparison at the end. Only section 5 (and a cell's section 6), the computation
written out, differs between the styles: layers.py and docs.py.
"""

from __future__ import annotations

import textwrap

from rnnshape.errors import option_for
from rnnshape.language import fill, said, say, tr
from rnnshape.render.text import cell_width
from rnnshape.spec import RNNSpec, lengths_text

# After this comment torch's results are final: tests insert a perturbation right
# after it to prove the check can fail. Keep the text stable. (The script says it in
# the chosen language, `checked()`, with the same "# [rnnshape] " in front.)
_MARKER_PREFIX = "# [rnnshape] "
_FINAL = tr("torch's results are final from here on")
CHECK_MARKER = _MARKER_PREFIX + str.__str__(_FINAL)

# (rtol, atol, why) per dtype. float16/bfloat16: torch computes in that dtype,
# the loop in float32, so the two agree only to the low dtype's precision.
TOLERANCES = {
    "float32": (1e-5, 1e-5, tr("float32 rounding")),
    "float64": (1e-12, 1e-12, tr("float64 rounding")),
    "float16": (1e-2, 1e-2, tr("torch works in float16 (11-bit mantissa), the loop in float32")),
    "bfloat16": (5e-2, 5e-2, tr("torch works in bfloat16 (8-bit mantissa), the loop in float32")),
}

# A cell has no sequence length; the script runs it over this many steps to show the
# loop that makes it a layer. Any length would do.
CELL_LOOP_STEPS = 5

# The style that `rnnshape code` writes without --style; its scripts never mention one.
DEFAULT_STYLE = "layers"


# ---- the script's words -------------------------------------------------------------
# A script's comments (and the sentences it prints when run) are said in the language
# chosen for the run, where they are written; the code around them never is. A comment
# of several lines is one sentence with "\n" in it, so that a language can wrap it as it
# needs; each of its lines becomes a `#` line.


def comment(text: str, indent: str = "") -> list[str]:
    """A sentence (already said) as comment lines."""
    return [f"{indent}# {line}" for line in text.splitlines()]


def note(code: str, text: str) -> str:
    """A code line with a sentence (already said) after it, on the same line."""
    return f"{code}  # {' '.join(text.splitlines())}"


def rule(title: str, width: int) -> str:
    """A section's heading, `# ---- title ----`, its dashes filling it to `width` columns."""
    head = f"# ---- {title} "
    return head + "-" * max(width - cell_width(head), 0)


def checked() -> str:
    """CHECK_MARKER, in the chosen language."""
    return _MARKER_PREFIX + say(_FINAL)


def _escaped(text: str) -> str:
    """Text as the inside of a "..." literal: backslashes and quotes escaped, anything unprintable as its escape."""
    body = text.replace("\\", "\\\\").replace('"', '\\"')
    return body if body.isprintable() else "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in body)


def literal(text: str) -> str:
    """A Python string literal holding text, in double quotes (what repr() would give, quoted the script's way)."""
    return f'"{_escaped(text)}"'


def in_fstring(text: str) -> str:
    """Text as the literal part of an f"...": escaped as in a literal, braces doubled."""
    return _escaped(text).replace("{", "{{").replace("}", "}}")


def fstring_body(template: str, /, **code: str) -> str:
    """The inside of an f"..." saying `template` (a tr()) in the chosen language, each of its
    {placeholders} the script's own code (already f-string text, e.g. "{name}")."""
    marks = {name: f"\x00{i}\x00" for i, name in enumerate(code)}
    text = in_fstring(say(fill(template, **marks)))
    for name, mark in marks.items():
        text = text.replace(in_fstring(mark), code[name])
    return text


def command(spec: RNNSpec, style: str = DEFAULT_STYLE) -> str:
    """The `rnnshape code` flags that regenerate this script (non-default ones only)."""
    default = RNNSpec()
    flags = []
    for name in RNNSpec.field_names():
        value = getattr(spec, name)
        # A cell has no seq_len (None); packed input derives seq_len and batch_size
        # from --lengths, which refuses them unless equal: leave them out.
        if name in ("seq_len", "batch_size") and (value is None or spec.packed):
            continue
        if value == getattr(default, name):
            continue
        if isinstance(value, bool):  # bias and enforce_sorted default to True
            flags.append(option_for(name) if value else "--no-" + name.replace("_", "-"))
        elif name == "lengths":
            flags.append(f"{option_for(name)} {lengths_text(value)}")
        else:
            flags.append(f"{option_for(name)} {value}")
    if style != DEFAULT_STYLE:
        flags.append(f"--style {style}")
    return " ".join(["rnnshape code", *flags])


def header(spec: RNNSpec, title: str, style: str = DEFAULT_STYLE) -> str:
    """The script's docstring and import; `title`, its first line, is the style's to say."""
    config = ", ".join(f"{k}={v!r}" for k, v in spec.to_dict().items())
    if spec.is_cell:
        layer = spec.module_name.removesuffix("Cell")
        states: str = tr("h_1 and c_1") if spec.lstm else "h_1"
        what = said(
            "Needs only torch. Run it with `python <this file>`: it builds nn.{module}, runs one\n"
            "step, recomputes {states} from the equations in PyTorch's documentation, runs the\n"
            "cell in a loop over time and checks that against nn.{layer} holding the same\n"
            "weights, and exits with status 1 if anything disagrees.",
            module=spec.module_name, states=states, layer=layer,
        )
    else:
        output: str = (tr("the packed output") if style == "docs" else tr("the padded output")) if spec.packed else "output"
        states = tr("{output}, h_n and c_n", output=output) if spec.lstm else tr("{output} and h_n", output=output)
        what = said(
            "Needs only torch. Run it with `python <this file>`: it builds nn.{module}, runs it once,\n"
            "recomputes {states} from the equations in PyTorch's documentation, and exits with\n"
            "status 1 if the two disagree.",
            module=spec.module_name, states=states,
        )
    lines = [
        f'"""{title}',
        "",
        said("Generated by: {command}", command=command(spec, style)),
        textwrap.fill(said("Config: {config}", config=config), width=88, subsequent_indent="    ", break_long_words=False),
        "",
        *what.splitlines(),
        '"""',
        "",
        "import torch",
        "",
    ]
    return "\n".join(lines)


# ---- layers ---------------------------------------------------------------------


def build(spec: RNNSpec) -> str:
    name, dtype = spec.mode, spec.dtype
    lines = [rule(said("1. The sizes, named as in PyTorch's documentation"), 77)]
    if spec.packed:
        lines += [
            note(f"LENGTHS = [{', '.join(map(str, spec.lengths or ()))}]",
                 said("packed input: sequence i has LENGTHS[i] real steps, then padding")),
            note("N = len(LENGTHS)", said("batch size: one sequence per length")),
            note("L = max(LENGTHS)", said("the padded length: the longest sequence's")),
        ]
    else:
        lines.append(note(f"L = {spec.seq_len}", said("sequence length of the dummy input")))
        if spec.unbatched:
            lines += comment(said("unbatched: the input is 2-D (L, H_in), there is no batch dimension N"))
        else:
            lines.append(note(f"N = {spec.batch_size}", said("batch size")))
    lines += [note(f"H_in = {spec.input_size}", said("input_size: features per time step"))]
    if spec.lstm:
        lines.append(note(f"H = {spec.hidden_size}", said("hidden_size, also H_cell: the size of the cell state c")))
    else:
        lines.append(f"H = {spec.hidden_size}  # hidden_size")
    if spec.proj_size:
        lines.append(note(f"P = {spec.proj_size}", said("proj_size: each h is projected from H to P numbers")))
        lines.append(note("H_out = P", said("so h_0, h_n and output carry P numbers per direction")))
    else:
        lines.append(note("H_out = H", said("no projection: h has H numbers")))
    if spec.bidirectional:
        lines.append(note("D = 2", said("directions: forward (t = 0..L-1) and reverse (t = L-1..0)")))
    else:
        lines.append(note("D = 1", said("one direction: forward, t = 0..L-1")))
    lines += [f"NUM_LAYERS = {spec.num_layers}", ""]

    lines += [rule(said("2. Build the layer"), 79)]
    lines += device_note(spec)
    lines += seed_lines(spec, "layer")
    lines += comment(said(
        "Keyword arguments only: passed by position, an 8th argument to nn.GRU (9th to\n"
        "nn.RNN) would silently become proj_size."
    ))
    lines += [
        f"{name} = torch.nn.{spec.module_name}(",
        "    input_size=H_in,",
        "    hidden_size=H,",
        "    num_layers=NUM_LAYERS,",
        f"    bias={spec.bias},",
        f"    batch_first={spec.batch_first},",
        f"    dropout={spec.dropout!r},",
        f"    bidirectional={spec.bidirectional},",
    ]
    if spec.mode == "rnn":
        lines.append(f"    nonlinearity={spec.nonlinearity!r},")
    if spec.mode == "lstm":
        lines.append("    proj_size=P," if spec.proj_size else note("    proj_size=0,", said("0: no projection")))
    lines += [f"    dtype=torch.{dtype},", ")"]
    if spec.dropout > 0:
        lines += comment(said("eval(): dropout (between layers) acts only in training; the loop below has none."))
    else:
        lines += comment(said("eval(): dropout would act only in training; eval keeps the run deterministic."))
    lines += [f"{name}.eval()", ""]
    return "\n".join(lines)


def device_note(spec: RNNSpec) -> list[str]:
    if spec.device == "cpu":
        return []
    return comment(said(
        "rnnshape was asked for --device {device}; this script runs on the CPU so that it\n"
        "runs anywhere. To try the device, add device=... here and .to(...) the inputs.",
        device=spec.device,
    ))


def seed_lines(spec: RNNSpec, what: str) -> list[str]:
    if what == "cell":
        said_ = said(
            "The seed fixes the initial weights: the same seed gives the same weights as\n"
            "`rnnshape inspect --seed {seed}` on the CPU, which builds the cell the same way.",
            seed=spec.seed,
        )
    else:
        said_ = said(
            "The seed fixes the initial weights: the same seed gives the same weights as\n"
            "`rnnshape inspect --seed {seed}` on the CPU, which builds the layer the same way.",
            seed=spec.seed,
        )
    return comment(said_) + [f"torch.manual_seed({spec.seed})"]


def half_note(spec: RNNSpec) -> list[str]:
    """Why a float16/bfloat16 script computes its reference in float32 (both styles say it)."""
    if spec.is_cell:
        return comment(said(
            "Computed in float32: torch.{dtype} keeps too few digits for a hand-written step\n"
            "to be a fair reference, so the comparison below uses a looser tolerance.",
            dtype=spec.dtype,
        ))
    return comment(said(
        "Computed in float32: torch.{dtype} keeps too few digits for a hand-written loop\n"
        "to be a fair reference, so the comparison below uses a looser tolerance.",
        dtype=spec.dtype,
    ))


def inputs(spec: RNNSpec) -> str:
    dtype = f"dtype=torch.{spec.dtype}"
    lines = [rule(said("3. A dummy input and explicit initial states"), 78)]
    if spec.unbatched:
        if spec.batch_first:
            lines += comment(said("2-D input is unbatched; torch ignores batch_first for it."))
        lines.append(note(f"x = torch.randn(L, H_in, {dtype})", said("unbatched: (L, H_in)")))
    elif spec.batch_first:
        lines.append(f"x = torch.randn(N, L, H_in, {dtype})  # batch_first=True: (N, L, H_in)")
    else:
        lines.append(f"x = torch.randn(L, N, H_in, {dtype})  # seq-first: (L, N, H_in)")
    if spec.packed:
        lines += padding(spec)
    if spec.bidirectional:
        lines += comment(said(
            "One row per (layer, direction), row layer*D + direction: torch stacks the\n"
            "layers bottom to top, and within a layer its forward then its reverse state."
        ))
    else:
        lines += comment(said("One row per layer: row layer*D + direction, with D = 1 and direction 0."))
    if spec.batch_first and not spec.unbatched:
        lines += comment(said("batch_first=True does not touch the states: it changes input and output only."))
    n = "" if spec.unbatched else "N, "
    rows = "NUM_LAYERS" if spec.num_directions == 1 else "D * NUM_LAYERS"
    lines.append(state_line("h_0", spec.h0, f"{rows}, {n}H_out, {dtype}"))
    if spec.lstm:
        lines.append(state_line("c_0", spec.c0, f"{rows}, {n}H, {dtype}", said("the cell state is never projected: H, not H_out")))
    if spec.packed:
        lines += pack(spec)
    lines.append("")
    return "\n".join(lines)


# --h0/--c0: randn draws from the seed; zeros and ones are written as learners write them
# (torch.zeros is what torch itself uses when no state is passed).
_STATE_FACTORY = {"randn": "torch.randn", "zeros": "torch.zeros", "ones": "torch.ones"}
_STATE_NOTE = {
    "randn": "",
    "zeros": tr("--{flag} zeros: torch's own {name} when none is passed"),
    "ones": "--{flag} ones",
}


def state_line(name: str, init: str, args: str, comment: str = "") -> str:
    """`h_0 = torch.randn(args)  # comment`, with --h0/--c0's factory and, unless randn, what it means.

    comment: already said (a shape, or a sentence in the chosen language)."""
    template = _STATE_NOTE[init]
    note_ = say(fill(template, flag=name.replace("_", ""), name=name)) if template else ""
    said_ = "; ".join(part for part in (comment, note_) if part)
    return f"{name} = {_STATE_FACTORY[init]}({args})" + (f"  # {said_}" if said_ else "")


def padding(spec: RNNSpec) -> list[str]:
    step = "x[i, length:]" if spec.batch_first else "x[length:, i]"
    return comment(said(
        "A padded batch: sequence i is real for t < LENGTHS[i] and zero after, as a real\n"
        "padded batch is. pack_padded_sequence never reads the padding anyway."
    )) + [
        "for i, length in enumerate(LENGTHS):",
        f"    {step} = 0",
    ]


def pack(spec: RNNSpec) -> list[str]:
    lines = [""]
    lines += comment(said(
        "Pack: keep only the real steps. At each t the PackedSequence holds the sequences\n"
        "still running, longest first; batch_sizes says how many that is."
    ))
    lines += comment(said("(lengths must be a CPU tensor, or a list, whatever the device.)"))
    lines += [
        "packed_input = torch.nn.utils.rnn.pack_padded_sequence(",
        f"    x, torch.tensor(LENGTHS), batch_first={spec.batch_first}, enforce_sorted={spec.enforce_sorted}",
        ")",
        note('print("batch_sizes   ", packed_input.batch_sizes.tolist())', said("sequences still running at t = 0, 1, ...")),
    ]
    if spec.enforce_sorted:
        lines.append(note('print("sorted_indices", packed_input.sorted_indices)',
                          said("None: enforce_sorted=True, already longest first")))
    else:
        lines += comment(said(
            "enforce_sorted=False: torch sorts the batch longest first, runs it, and puts\n"
            "h_n back in the original order (it permutes h_0 the same way going in)."
        ))
        lines.append(note('print("sorted_indices", packed_input.sorted_indices.tolist())',
                          said("the original index of each sorted sequence")))
    return lines


def run(spec: RNNSpec, style: str = DEFAULT_STYLE) -> str:
    name = spec.mode
    lines = [rule(said("4. What torch computes"), 81), "with torch.no_grad():"]
    module_input = "packed_input" if spec.packed else "x"
    output = "packed_output" if spec.packed else "output"
    if spec.lstm:
        lines.append(f"    {output}, (h_n, c_n) = {name}({module_input}, (h_0, c_0))")
    else:
        lines.append(f"    {output}, h_n = {name}({module_input}, h_0)")
    if spec.packed and style == "docs":
        # The docs-style loop walks the packed layout itself, so it is compared in that layout.
        lines += comment(said(
            "Packed in, packed out: packed_output.data holds the outputs in packed_input.data's\n"
            "layout, step by step, at each step the sequences still running, longest first."
        ))
    elif spec.packed:
        lines += comment(said(
            "Packed in, packed out. pad_packed_sequence makes it a padded tensor again:\n"
            "each sequence's outputs up to its length, zeros after."
        ))
        lines.append(f"padded_output, _ = torch.nn.utils.rnn.pad_packed_sequence(packed_output, batch_first={spec.batch_first})")
    lines += [checked(), ""]
    return "\n".join(lines)


def gate_prefix(spec: RNNSpec) -> str:
    """G in the shape comments: torch stacks G blocks of H rows (i, f, g, o; r, z, n)."""
    return "" if spec.gate_multiple == 1 else f"{spec.gate_multiple}*"


def shape_text(n: str, last: str) -> str:
    """A shape comment: n is "N, " (batched) or "" (unbatched, a 1-tuple)."""
    return f"({n}{last})" if n else f"({last},)"


def is_half(spec: RNNSpec) -> bool:
    return spec.dtype in ("float16", "bfloat16")


def to_float(spec: RNNSpec) -> str:
    return ".float()" if is_half(spec) else ""


# ---- cells ----------------------------------------------------------------------


def cell_sizes(spec: RNNSpec) -> str:
    lines = [rule(said("1. The sizes, named as in PyTorch's documentation"), 77)]
    lines += comment(said("A cell takes one time step, so there is no sequence length L here."))
    if spec.unbatched:
        lines += comment(said("unbatched: the input is 1-D (H_in,), the state (H,): there is no batch dimension N"))
    else:
        lines.append(note(f"N = {spec.batch_size}", said("batch size")))
    lines.append(note(f"H_in = {spec.input_size}", said("input_size: features of the one time step")))
    if spec.lstm:
        lines.append(note(f"H = {spec.hidden_size}", said("hidden_size: the size of h, and of the cell state c")))
    else:
        lines.append(note(f"H = {spec.hidden_size}", said("hidden_size: the size of h")))
    lines.append("")
    return "\n".join(lines)


def cell_build(spec: RNNSpec) -> str:
    lines = [rule(said("2. Build the cell"), 79)]
    lines += device_note(spec)
    lines += seed_lines(spec, "cell")
    lines += comment(said(
        "Keyword arguments, as rnnshape passes them. A cell has no num_layers, bidirectional,\n"
        "batch_first, dropout or proj_size: it is one step of one layer in one direction."
    ))
    lines += [
        f"{spec.mode} = torch.nn.{spec.module_name}(",
        "    input_size=H_in,",
        "    hidden_size=H,",
        f"    bias={spec.bias},",
    ]
    if spec.base_mode == "rnn":
        lines.append(f"    nonlinearity={spec.nonlinearity!r},")
    lines += [f"    dtype=torch.{spec.dtype},", ")"]
    lines += comment(said("eval(): a cell has no dropout; eval() only mirrors how rnnshape builds it."))
    lines += [f"{spec.mode}.eval()", ""]
    return "\n".join(lines)


def cell_inputs(spec: RNNSpec) -> str:
    dtype = f"dtype=torch.{spec.dtype}"
    lines = [rule(said("3. One time step's input, and the state before it"), 80)]
    if spec.unbatched:
        lines += [
            note(f"x = torch.randn(H_in, {dtype})", said("unbatched: (H_in,)")),
            state_line("h_0", spec.h0, f"H, {dtype}", "(H,)"),
        ]
        if spec.lstm:
            lines.append(state_line("c_0", spec.c0, f"H, {dtype}", "(H,)"))
    else:
        lines.append(note(f"x = torch.randn(N, H_in, {dtype})", said("(N, H_in): no L, a cell sees one step")))
        lines += comment(said("No (layers * directions) dimension in front, unlike a layer's h_0: a cell is one of each."))
        lines.append(state_line("h_0", spec.h0, f"N, H, {dtype}", "(N, H)"))
        if spec.lstm:
            lines.append(state_line("c_0", spec.c0, f"N, H, {dtype}", "(N, H)"))
    lines.append("")
    return "\n".join(lines)


def cell_run(spec: RNNSpec) -> str:
    lines = [rule(said("4. What torch computes: one step"), 81), "with torch.no_grad():"]
    if spec.lstm:
        lines.append(note(f"    h_1, c_1 = {spec.mode}(x, (h_0, c_0))", said("a cell returns the next state only, no output")))
    else:
        lines.append(note(f"    h_1 = {spec.mode}(x, h_0)", said("the next state, which is also this step's output")))
    lines.append("")
    return "\n".join(lines)


def cell_to_layer(spec: RNNSpec, loop: list[str]) -> str:
    """Section 5: the cell in a loop over time (`loop`, the style's: from x_seq to cell_output,
    last_h and last_c), against the one-layer module with its weights."""
    cell, layer = spec.mode, spec.base_mode
    layer_name = spec.module_name.removesuffix("Cell")
    n = "" if spec.unbatched else "N, "
    dtype = f"dtype=torch.{spec.dtype}"
    G = gate_prefix(spec)
    sequence_shape = f"(L, {n}H_in)"
    lines = [rule(said("5. The loop that turns a cell into a layer"), 79)]
    lines += comment(said(
        "A cell is the manual gearbox: it takes one step, and you write the loop over time,\n"
        "carrying the state from one step to the next yourself. nn.{layer} is the automatic:\n"
        "the same loop runs inside torch (over layers and directions too). Given the cell's\n"
        "weights, a one-layer, one-direction nn.{layer} computes exactly this loop.",
        layer=layer_name,
    ))
    lines += [
        note(f"L = {CELL_LOOP_STEPS}", said("any length: a cell has no L of its own")),
        note(f"x_seq = torch.randn(L, {n}H_in, {dtype})", said("a sequence, time first: {shape}", shape=sequence_shape)),
        *loop,
        "",
    ]
    lines += comment(said("The matching layer: same sizes and bias, one layer, one direction."))
    lines += [
        f"{layer} = torch.nn.{layer_name}(",
        "    input_size=H_in,",
        "    hidden_size=H,",
        "    num_layers=1,",
        f"    bias={spec.bias},",
    ]
    if spec.base_mode == "rnn":
        lines.append(f"    nonlinearity={spec.nonlinearity!r},")
    lines += [
        f"    {dtype},",
        ")",
        f"{layer}.eval()",
        "with torch.no_grad():",
    ]
    lines += comment(said(
        "The layer's parameters are the cell's, renamed with _l0 (layer 0): same shapes,\n"
        "same gate order, so a copy makes the two compute the same thing."
    ), "    ")
    lines += [
        f"    {layer}.weight_ih_l0.copy_({cell}.weight_ih)  # ({G}H, H_in)",
        f"    {layer}.weight_hh_l0.copy_({cell}.weight_hh)  # ({G}H, H)",
    ]
    if spec.bias:
        lines += [
            f"    {layer}.bias_ih_l0.copy_({cell}.bias_ih)  # ({G}H,)",
            f"    {layer}.bias_hh_l0.copy_({cell}.bias_hh)  # ({G}H,)",
        ]
    first = "(1, H)" if spec.unbatched else "(1, N, H)"
    lines += comment(said("A layer's states have a (num_layers * D) dimension in front, 1 here: {shape}.", shape=first), "    ")
    if spec.lstm:
        lines.append(f"    output, (h_n, c_n) = {layer}(x_seq, (h_0.unsqueeze(0), c_0.unsqueeze(0)))")
    else:
        lines.append(f"    output, h_n = {layer}(x_seq, h_0.unsqueeze(0))")
    lines += [checked(), ""]
    return "\n".join(lines)


# ---- the comparison ---------------------------------------------------------------


def comparisons(spec: RNNSpec, style: str = DEFAULT_STYLE) -> list[tuple[str, str, str, str, str]]:
    """(name, torch's label, torch's tensor, the reference's label, the reference) per check.

    The reference's label is a Message (the English it equals): the script prints it, said
    in the chosen language."""
    got = to_float(spec)
    module = f"nn.{spec.module_name}"
    if spec.is_cell:
        layer = "nn." + spec.module_name.removesuffix("Cell")
        rows = [("h_1", module, f"h_1{got}", tr("by hand"), "ref_h_1")]
        if spec.lstm:
            rows.append(("c_1", module, f"c_1{got}", tr("by hand"), "ref_c_1"))
        # The cell-vs-layer rows: both from torch, in the same dtype.
        rows += [
            ("output", layer, f"output{got}", tr("cell loop"), f"cell_output{got}"),
            ("h_n[0]", layer, f"h_n[0]{got}", tr("cell loop's last h"), f"last_h{got}"),
        ]
        if spec.lstm:
            rows.append(("c_n[0]", layer, f"c_n[0]{got}", tr("cell loop's last c"), f"last_c{got}"))
        return rows
    if spec.packed:
        # The docs-style loop walks PackedSequence's own layout; the layers style pads its result.
        output = "packed_output.data" if style == "docs" else "padded_output"
    else:
        output = "output"
    loop = tr("loop")
    rows = [(output, module, f"{output}{got}", loop, "ref_output"), ("h_n", module, f"h_n{got}", loop, "ref_h_n")]
    if spec.lstm:
        rows.append(("c_n", module, f"c_n{got}", loop, "ref_c_n"))
    return rows


def check(spec: RNNSpec, style: str = DEFAULT_STYLE) -> str:
    rtol, atol, why = TOLERANCES[spec.dtype]
    rows = comparisons(spec, style)
    width = max(6, *(len(row[0]) for row in rows))  # aligns the printed shapes
    lines = [
        rule(said("{n}. Compare", n=7 if spec.is_cell else 6), 81),
        note(f"RTOL, ATOL = {rtol!r}, {atol!r}", say(why)),
    ]
    if spec.is_cell and is_half(spec):
        lines += comment(said(
            "(The nn.{layer} rows compare two torch runs, both in {dtype}: the same tolerance fits.)",
            layer=spec.module_name.removesuffix("Cell"), dtype=spec.dtype,
        ))
    lines.append("failures = []")
    newline = "\n  "  # each failure on its own line, under the first
    if spec.is_cell:
        # Two references (the equations, and the loop against the layer): label each row.
        torch_label, ref_label = "{torch_label}", "{ref_label}"
        lines.append("for name, torch_label, from_torch, ref_label, from_ref in (")
        lines += [f'    ("{n}", "{a}", {b}, {literal(say(c))}, {d}),' for n, a, b, c, d in rows]
        layer = spec.module_name.removesuffix("Cell")
        mismatch = said("MISMATCH: nn.{module} differs from its equations, or the loop over it from nn.{layer}:",
                        module=spec.module_name, layer=layer)
        ok = said("OK: the explicit step matches nn.{module}, and the loop over it matches nn.{layer}",
                  module=spec.module_name, layer=layer)
    else:
        torch_label, ref_label = f"nn.{spec.module_name}", in_fstring(say(rows[0][3]))
        lines.append("for name, from_torch, from_ref in (")
        lines += [f'    ("{n}", {b}, {d}),' for n, _, b, _, d in rows]
        mismatch = said("MISMATCH: the explicit loop does not match nn.{module}:", module=spec.module_name)
        ok = said("OK: the explicit loop matches nn.{module}", module=spec.module_name)
    shapes = f"{torch_label} {{tuple(from_torch.shape)}}  {ref_label} {{tuple(from_ref.shape)}}"
    # The sentences the script prints when it runs: f-strings whose {placeholders} are its own code.
    shapes_differ = fstring_body(tr("{name}: shapes differ, {shapes}"), name="{name}", shapes=shapes)
    values_differ = fstring_body(
        tr("{name}: values differ by up to {worst} (rtol={rtol}, atol={atol})"),
        name="{name}", worst="{worst:.3g}", rtol="{RTOL:g}", atol="{ATOL:g}",
    )
    lines += [
        "):",
        f'    print(f"{{name:<{width}}} {shapes}")',
        *comment(said("Shapes first: allclose would broadcast a (1, ...) tensor and hide a mismatch."), "    "),
        "    if from_torch.shape != from_ref.shape:",
        f'        failures.append(f"{shapes_differ}")',
        "    elif not torch.allclose(from_torch, from_ref, rtol=RTOL, atol=ATOL):",
        "        worst = (from_torch - from_ref).abs().max().item()",
        f'        failures.append(f"{values_differ}")',
        "",
        "if failures:",
        f'    raise SystemExit({literal(mismatch + newline)} + "\\n  ".join(failures))',
        f"print({literal(ok)})",
        "",
    ]
    return "\n".join(lines)
