"""`--style docs`: section 5 written as PyTorch's nn.RNN documentation writes its loop.

The documentation (torch.nn.RNN, "Efficient implementation equivalent to the
following with bidirectional=False") loops over time steps outside and layers
inside, each layer writing its row of h_t:

    for t in range(seq_len):
        for layer in range(rnn.num_layers):
            input_t = x[t] if layer == 0 else h_t[layer - 1]
            h_t[layer] = torch.tanh(input_t @ ... + h_t_minus_1[layer] @ ... + ...)
        output.append(h_t[-1].clone())
        h_t_minus_1 = h_t.clone()

This module writes that loop for each config: LSTM and GRU put their documented
equations where nn.RNN has torch.tanh(...); packed input walks the PackedSequence
layout, updating the first batch_sizes[t] sequences at step t. A bidirectional
stack cannot keep time outermost (see _SAY["bidirectional_why"]): it runs layer by
layer, with the documentation's loop over time once per direction.

Every sentence the generated script says is in _SAY, in one place, each a tr() said
in the language chosen for the run where it is written (_say); the code lines are
built around them. (The sentence on float16/bfloat16 is parts.half_note: the layers
style says it too.)
"""

from __future__ import annotations

from rnnshape.codegen.parts import (
    comment,
    half_note,
    is_half,
    note,
    rule,
    shape_text,
    to_float,
)
from rnnshape.language import fill, say, tr
from rnnshape.spec import RNNSpec

_SAY = {
    "title_layer": tr("nn.{module}, recomputed by hand as PyTorch's nn.RNN documentation loops: time steps outside, layers inside."),
    "title_bidirectional": tr("nn.{module}, recomputed by hand after PyTorch's nn.RNN documentation: layer by layer, a loop over time per direction."),
    "title_cell": tr("nn.{module}, recomputed by hand: one time step, then the documentation's loop over time that makes it nn.{layer}."),
    "section": tr("5. The same computation, as PyTorch's documentation writes it"),
    "section_cell_step": tr("6. The one step, as PyTorch's documentation writes it"),
    "docs_loop": tr(
        "nn.RNN's documentation spells the layer out as an \"efficient implementation equivalent\n"
        "to the following with bidirectional=False\": time steps in the outer loop, layers in\n"
        "the inner one, each layer writing its row of h_t. This is that loop, for this config."
    ),
    "docs_equations": tr("nn.{module}'s own equations ({gates}) stand where nn.RNN has torch.tanh(...)."),
    "docs_mistake": tr(
        "Older versions of that snippet fed x[t] to every layer, and appended h_t[-1] without\n"
        "clone(), so every output became the last step's (pytorch/pytorch#136926). Both are\n"
        "written correctly here, as the current documentation does: a layer above the first\n"
        "reads the layer below, h_t[layer - 1], and each step's h is cloned."
    ),
    "bidirectional_why": tr(
        "nn.RNN's documentation spells the layer out for bidirectional=False only, with time\n"
        "steps outside and layers inside. A bidirectional stack cannot keep time outermost:\n"
        "the reverse direction's step t needs the layer below at every step from the end down\n"
        "to t, so a layer can start only once the layer below has run through the whole\n"
        "sequence, both ways. So the layers are the outer loop here, and inside each layer\n"
        "the documentation's loop over time runs once per direction: forward from t = 0 with\n"
        "h_t_minus_1, reverse from the last step with h_t_plus_1."
    ),
    "packed_loop": tr(
        "Packed input: time still outside, layers inside. At step t only the first\n"
        "batch_sizes[t] sequences (longest first) have a step, so only their rows of h_t\n"
        "move; a sequence that has ended keeps its last h, which is its row of h_n."
    ),
    "params": tr("The documentation's params = dict(rnn.named_parameters()), detached (the values, no gradients):"),
    "param_names": tr("{names}, as torch names them."),
    "cell_param_names": tr("{names}: no _l0 suffix, a cell has one layer."),
    "unpack_lstm": tr("nn.LSTM's state is the pair (h_0, c_0)"),
    "batch_first_in": tr("batch_first=True: the loop walks time along dim 0, so (L, N, H_in)"),
    "batch_first_out": tr("back to batch_first (N, L, ...); h_n is never transposed"),
    "seq_len": tr("L: time runs along dim 0"),
    "unbatched": tr("Unbatched: x[t] is (H_in,) and each h (H_out,); the same lines need no batch dimension."),
    "h_t_minus_1": tr("every layer's h at step t - 1: {shape}"),
    "h_t": tr("every layer's h at step t, written layer by layer"),
    "c_t_minus_1": tr("the same for the cell state: {shape}"),
    "input_t": tr("Layer 0 reads the input at t; each layer above reads the layer below at the same t."),
    "input_t_one_layer": tr("one layer: it reads the input"),
    "dropout": tr("(in training, dropout would act on input_t of every layer above the first)"),
    "dropout_bidirectional": tr("(in training, dropout would act here, on the next layer's input)"),
    "append": tr("the top layer's h at t; clone(): h_t is written again at t + 1"),
    "step_clone": tr("clone(): the next step reads these while it writes h_t"),
    "stack": "(L, {n}H_out)",  # code, never translated
    "packed_layout": tr(
        "A PackedSequence keeps only the real steps, time-major: data holds step 0 of every\n"
        "sequence, then step 1 of those still running, and so on; batch_sizes[t] says how many."
    ),
    "split": tr("x[t]: (batch_sizes[t], H_in), the sequences running at t, longest first"),
    "split_layer": tr("x[t]: this layer's input at t, (batch_sizes[t], H_in at layer 0, 2*H_out above)"),
    "unsorted": tr(
        "enforce_sorted=False: the data is in sorted order, longest first. torch sorts h_0's\n"
        "batch the same way going in, and puts h_n back in the original order coming out."
    ),
    "running": tr("the first `running` sequences have a step t"),
    "packed_cat": tr("(sum of LENGTHS, {features}): packed_output.data's layout"),
    "unsort": tr("back to the batch's original order"),
    "h_n_rows": tr("row layer * 2 + direction, filled as each (layer, direction) finishes"),
    "layer_input": tr("layer 0 reads x; each layer above, both directions of the layer below"),
    "packed_layer_input": tr("every real step, in the packed layout: {shape}"),
    "forward_direction": tr("Forward direction: parameters *_l{layer}, row layer * 2 of h_0 and h_n."),
    "reverse_direction": tr("Reverse direction: parameters *_l{layer}_reverse, row layer * 2 + 1; the same input, read from its end."),
    "reverse_previous": tr("the reverse direction's step before t is t + 1"),
    "packed_reverse": tr("A sequence joins at its own last step, from its row of h_0: the rows not yet reached still hold it."),
    "packed_bidirectional": tr(
        "Packed input: at step t only the first batch_sizes[t] sequences (longest first) have a\n"
        "step, so only their rows of h_t move. Forward, a sequence that has ended keeps its last\n"
        "h, its row of h_n; reverse, a sequence starts at its own last step."
    ),
    "new_tensor": tr("each step makes a new tensor: no clone() needed"),
    "forward_h_n": tr("after t = L - 1"),
    "packed_forward_h_n": tr("each sequence's h after its own last step"),
    "reverse_h_n": tr("after t = 0, the reverse direction's last step"),
    "own_t": tr("at its own t: output[t] holds both directions' h at t"),
    "both_directions": tr("Both directions side by side at each t: the next layer's input."),
    "top_output": tr("the top layer's, both directions: (L, {n}2*H_out)"),
    "lstm_gates": tr("{shape}: the blocks i, f, g, o, H columns each"),
    "projection": tr("h_t = W_hr h_t, the projection: {h} -> {p}"),
    "gru_ih": "W_ir x + b_ir, W_iz x + b_iz, W_in x + b_in",  # code, never translated
    "gru_ih_nobias": "W_ir x, W_iz x, W_in x",  # code, never translated
    "gru_hh": "W_hr h + b_hr, W_hz h + b_hz, W_hn h + b_hn",  # code, never translated
    "gru_hh_nobias": "W_hr h, W_hz h, W_hn h",  # code, never translated
    "gru_n": tr("r_t scales W_hn h{bias} as a whole"),
    "gru_h": tr("z_t = 1 keeps the old state"),
    "cell_loop": tr(
        "nn.RNN's documented loop with one layer: the cell's one step stands where that loop\n"
        "writes h_t[layer] = torch.tanh(...). nn.{module}'s own documentation loops the same\n"
        "way: {example}; output.append(hx)."
    ),
    "cell_step": tr("one step: x[t] is {shape}"),
    "cell_append": tr("a layer's output at t is its h at t"),
    "cell_new": tr("the cell returns new tensors: no clone() needed"),
    "no_grad": tr("the values only: the cell's parameters would record gradients"),
    "cell_equations": tr("The equations of nn.{module}'s documentation, on the cell's own parameters."),
}


def _say(key: str, **values: object) -> str:
    """A sentence of _SAY, filled in and said in the chosen language."""
    return say(fill(_SAY[key], **values))


def _comment(key: str, indent: str = "", **values: object) -> list[str]:
    """A sentence of _SAY as comment lines."""
    return comment(_say(key, **values), indent)


def _trailing(code: str, key: str, **values: object) -> str:
    """A code line with a sentence of _SAY after it."""
    return note(code, _say(key, **values))


def _section(title: str) -> str:
    return rule(title, 84)


def title(spec: RNNSpec) -> str:
    """The script's first line."""
    if spec.is_cell:
        return _say("title_cell", module=spec.module_name, layer=spec.module_name.removesuffix("Cell"))
    return _say("title_bidirectional" if spec.bidirectional else "title_layer", module=spec.module_name)


# ---- one step, as the documentation's equations --------------------------------


def _param(name: str, key: str) -> str:
    """params["weight_ih"] for a cell (key ""), params[f"weight_ih_l{layer}"] for a layer."""
    return f'params[f"{name}{key}"]' if "{" in key else f'params["{name}{key}"]'


def _step(spec: RNNSpec, *, x: str, h: str, c: str, new_h: str, new_c: str, key: str, n: str) -> list[str]:
    """One time step of one layer in one direction: new_h (new_c) from the input x and the
    previous state h (c). key: the parameters' suffix; n: the batch part of the shape comments."""
    W_ih, W_hh = _param("weight_ih", key), _param("weight_hh", key)
    b_ih, b_hh = _param("bias_ih", key), _param("bias_hh", key)
    if spec.base_mode == "rnn":
        f = "torch.tanh" if spec.nonlinearity == "tanh" else "torch.relu"
        # The documentation's own order of the four terms, so the lines match what a learner reads.
        terms = [f"{x} @ {W_ih}.T", f"+ {h} @ {W_hh}.T"] + ([f"+ {b_hh}", f"+ {b_ih}"] if spec.bias else [])
        return [f"{new_h} = {f}(", *(f"    {term}" for term in terms), ")"]
    if spec.base_mode == "gru":
        suffix = "" if spec.bias else "_nobias"
        lines = []
        for blocks, product, bias, said in (("ih", f"{x} @ {W_ih}.T", b_ih, "gru_ih"), ("hh", f"{h} @ {W_hh}.T", b_hh, "gru_hh")):
            unpacked = f"{blocks}_r, {blocks}_z, {blocks}_n"
            if spec.bias:
                lines += [f"{unpacked} = (", f"    {product}", f"    + {bias}", _trailing(").chunk(3, dim=-1)", said + suffix)]
            else:
                lines.append(_trailing(f"{unpacked} = ({product}).chunk(3, dim=-1)", said + suffix))
        return lines + [
            "r_t = torch.sigmoid(ih_r + hh_r)",
            "z_t = torch.sigmoid(ih_z + hh_z)",
            _trailing("n_t = torch.tanh(ih_n + r_t * hh_n)", "gru_n", bias=" + b_hn" if spec.bias else ""),
            _trailing(f"{new_h} = (1 - z_t) * n_t + z_t * {h}", "gru_h"),
        ]
    terms = [f"{x} @ {W_ih}.T"] + ([f"+ {b_ih}"] if spec.bias else []) + [f"+ {h} @ {W_hh}.T"] + ([f"+ {b_hh}"] if spec.bias else [])
    lines = [
        "gates = (",
        *(f"    {term}" for term in terms),
        _trailing(")", "lstm_gates", shape=shape_text(n, "4*H")),
        "i_t, f_t, g_t, o_t = gates.chunk(4, dim=-1)",
        "i_t, f_t, g_t, o_t = torch.sigmoid(i_t), torch.sigmoid(f_t), torch.tanh(g_t), torch.sigmoid(o_t)",
        f"{new_c} = f_t * {c} + i_t * g_t",
    ]
    if spec.proj_size:
        W_hr = _param("weight_hr", key)
        lines.append(_trailing(f"{new_h} = (o_t * torch.tanh({new_c})) @ {W_hr}.T", "projection",
                               h=shape_text(n, "H"), p=shape_text(n, "P")))
    else:
        lines.append(f"{new_h} = o_t * torch.tanh({new_c})")
    return lines


def _indented(indent: str, lines: list[str]) -> list[str]:
    return [indent + line for line in lines]


# ---- section 5 for a layer ---------------------------------------------------------


def _params(spec: RNNSpec, module: str, names_key: str) -> list[str]:
    """params: the module's parameters by name, as the documentation's loop reads them."""
    lines = []
    if is_half(spec):
        lines += half_note(spec)
    suffix = "" if spec.is_cell else "_l0"
    names = [f"weight_ih{suffix}", f"weight_hh{suffix}"]
    if spec.bias:
        names += [f"bias_ih{suffix}", f"bias_hh{suffix}"]
    if spec.proj_size:
        names.append(f"weight_hr{suffix}")
    shown = ", ".join(f'"{name}"' for name in names) + (", ..." if spec.num_layers > 1 or spec.bidirectional else "")
    lines += _comment("params") + _comment(names_key, names=shown)
    return lines + [f"params = {{name: p.detach(){to_float(spec)} for name, p in {module}.named_parameters()}}"]


def _signature(spec: RNNSpec, first: str) -> list[str]:
    """def forward(...): the state as the module takes it, unpacked to h_0 (and c_0)."""
    if spec.lstm:
        return [f"def forward({first}, hx):", _trailing("    h_0, c_0 = hx", "unpack_lstm")]
    return [f"def forward({first}, h_0):"]


def _call(spec: RNNSpec, first: str) -> list[str]:
    cast = to_float(spec)
    if spec.lstm:
        return [f"ref_output, (ref_h_n, ref_c_n) = forward({first}, (h_0{cast}, c_0{cast}))"]
    return [f"ref_output, ref_h_n = forward({first}, h_0{cast})"]


def _returned(spec: RNNSpec, output: str, h: str, c: str) -> str:
    return f"    return {output}, ({h}, {c})" if spec.lstm else f"    return {output}, {h}"


def loop(spec: RNNSpec) -> str:
    """Section 5: the documentation's loop for this config, as forward(), then run."""
    lines = ["", _section(_say("section"))]
    if spec.bidirectional:
        lines += _comment("bidirectional_why")
        if spec.packed:
            lines += _comment("packed_bidirectional")
    else:
        lines += _comment("docs_loop")
        if spec.mode != "rnn":
            gates = "i_t, f_t, g_t, o_t" if spec.lstm else "r_t, z_t, n_t"
            lines += _comment("docs_equations", module=spec.module_name, gates=gates)
        lines += _comment("docs_mistake")
        if spec.packed:
            lines += _comment("packed_loop")
    lines += _params(spec, spec.mode, "param_names")
    lines += ["", ""]
    if spec.packed:
        body = _packed_bidirectional(spec) if spec.bidirectional else _packed(spec)
        first = "packed_input"
    else:
        body = _bidirectional(spec) if spec.bidirectional else _unidirectional(spec)
        first = f"x{to_float(spec)}"
    lines += body + ["", ""] + _call(spec, first) + [""]
    return "\n".join(lines)


def _time_first(spec: RNNSpec) -> list[str]:
    """The opening of an unpacked forward(): x with time along dim 0, and seq_len."""
    lines = []
    if spec.unbatched:
        lines += _comment("unbatched", "    ")
    elif spec.batch_first:
        lines.append(_trailing("    x = x.transpose(0, 1)", "batch_first_in"))
    return lines + [_trailing("    seq_len = x.size(0)", "seq_len")]


def _time_last(spec: RNNSpec) -> list[str]:
    if spec.batch_first and not spec.unbatched:
        return [_trailing("    output = output.transpose(0, 1)", "batch_first_out")]
    return []


def _unidirectional(spec: RNNSpec) -> list[str]:
    n = "" if spec.unbatched else "N, "
    lines = _signature(spec, "x") + _time_first(spec)
    lines += [
        _trailing("    h_t_minus_1 = h_0.clone()", "h_t_minus_1", shape=f"(NUM_LAYERS, {n}H_out)"),
        _trailing("    h_t = h_0.clone()", "h_t"),
    ]
    if spec.lstm:
        lines += [
            _trailing("    c_t_minus_1 = c_0.clone()", "c_t_minus_1", shape=f"(NUM_LAYERS, {n}H)"),
            "    c_t = c_0.clone()",
        ]
    lines += ["    output = []", "    for t in range(seq_len):", "        for layer in range(NUM_LAYERS):"]
    lines += _input_t(spec, "h_t[layer - 1]")
    lines += _indented(" " * 12, _step(spec, x="input_t", h="h_t_minus_1[layer]", c="c_t_minus_1[layer]",
                                       new_h="h_t[layer]", new_c="c_t[layer]", key="_l{layer}", n=n))
    lines += [_trailing("        output.append(h_t[-1].clone())", "append"), _trailing("        h_t_minus_1 = h_t.clone()", "step_clone")]
    if spec.lstm:
        lines.append("        c_t_minus_1 = c_t.clone()")
    lines.append(_trailing("    output = torch.stack(output)", "stack", n=n))
    return lines + _time_last(spec) + [_returned(spec, "output", "h_t", "c_t")]


def _input_t(spec: RNNSpec, below: str) -> list[str]:
    if spec.num_layers == 1:
        return [_trailing("            input_t = x[t]", "input_t_one_layer")]
    lines = _comment("input_t", " " * 12) + [f"            input_t = x[t] if layer == 0 else {below}"]
    if spec.dropout > 0:
        lines += _comment("dropout", " " * 12)
    return lines


def _packed_opening(spec: RNNSpec, data: str) -> list[str]:
    """The opening of a packed forward(): batch_sizes, the data, and h_0 (c_0) in sorted order."""
    lines = _comment("packed_layout", "    ") + ["    batch_sizes = packed_input.batch_sizes.tolist()"]
    lines += data.splitlines()
    if not spec.enforce_sorted:
        lines += _comment("unsorted", "    ")
        lines.append("    h_0 = h_0[:, packed_input.sorted_indices]")
        if spec.lstm:
            lines.append("    c_0 = c_0[:, packed_input.sorted_indices]")
    return lines


def _unsort(spec: RNNSpec, h: str, c: str) -> list[str]:
    if spec.enforce_sorted:
        return []
    lines = [_trailing(f"    {h} = {h}[:, packed_input.unsorted_indices]", "unsort")]
    if spec.lstm:
        lines.append(f"    {c} = {c}[:, packed_input.unsorted_indices]")
    return lines


def _packed(spec: RNNSpec) -> list[str]:
    cast = to_float(spec)
    split = _trailing(f"    x = packed_input.data{cast}.split(batch_sizes)", "split")
    lines = _signature(spec, "packed_input") + _packed_opening(spec, split)
    lines += [
        _trailing("    h_t_minus_1 = h_0.clone()", "h_t_minus_1", shape="(NUM_LAYERS, N, H_out)"),
        _trailing("    h_t = h_0.clone()", "h_t"),
    ]
    if spec.lstm:
        lines += [_trailing("    c_t_minus_1 = c_0.clone()", "c_t_minus_1", shape="(NUM_LAYERS, N, H)"), "    c_t = c_0.clone()"]
    lines += [
        "    output = []",
        "    for t in range(len(batch_sizes)):",
        _trailing("        running = batch_sizes[t]", "running"),
        "        for layer in range(NUM_LAYERS):",
    ]
    lines += _input_t(spec, "h_t[layer - 1, :running]")
    lines += _indented(" " * 12, _step(spec, x="input_t", h="h_t_minus_1[layer, :running]", c="c_t_minus_1[layer, :running]",
                                       new_h="h_t[layer, :running]", new_c="c_t[layer, :running]", key="_l{layer}", n="running, "))
    lines += [_trailing("        output.append(h_t[-1, :running].clone())", "append"),
              _trailing("        h_t_minus_1 = h_t.clone()", "step_clone")]
    if spec.lstm:
        lines.append("        c_t_minus_1 = c_t.clone()")
    lines.append(_trailing("    output = torch.cat(output)", "packed_cat", features="H_out"))
    return lines + _unsort(spec, "h_t", "c_t") + [_returned(spec, "output", "h_t", "c_t")]


def _direction_state(spec: RNNSpec, previous: str, row: str, clone: str) -> list[str]:
    lines = [f"        h_{previous} = h_0[{row}]{clone}"]
    if spec.lstm:
        lines.append(f"        c_{previous} = c_0[{row}]{clone}")
    return lines


def _to_h_n(spec: RNNSpec, row: str, key: str) -> list[str]:
    lines = [_trailing(f"        h_n[{row}] = h_t", key)]
    if spec.lstm:
        lines.append(f"        c_n[{row}] = c_t")
    return lines


def _bidirectional(spec: RNNSpec) -> list[str]:
    n = "" if spec.unbatched else "N, "
    lines = _signature(spec, "x") + _time_first(spec)
    lines.append(_trailing("    h_n = torch.empty_like(h_0)", "h_n_rows"))
    if spec.lstm:
        lines.append("    c_n = torch.empty_like(c_0)")
    lines += [_trailing("    layer_input = x", "layer_input"), "    for layer in range(NUM_LAYERS):"]
    for previous, row, steps, keep, h_n_key in (
        ("t_minus_1", "layer * 2", "range(seq_len)", "forward_output.append(h_t)", "forward_h_n"),
        ("t_plus_1", "layer * 2 + 1", "reversed(range(seq_len))", "reverse_output[t] = h_t", "reverse_h_n"),
    ):
        reverse = previous == "t_plus_1"
        lines += _comment("reverse_direction" if reverse else "forward_direction", " " * 8, layer="{layer}")
        state = _direction_state(spec, previous, row, "")
        if reverse:
            state[0] = _trailing(state[0], "reverse_previous")
        lines += state
        lines.append("        reverse_output = [None] * seq_len" if reverse else "        forward_output = []")
        lines.append(f"        for t in {steps}:")
        key = "_l{layer}_reverse" if reverse else "_l{layer}"
        lines += _indented(" " * 12, _step(spec, x="layer_input[t]", h=f"h_{previous}", c=f"c_{previous}",
                                           new_h="h_t", new_c="c_t", key=key, n=n))
        lines.append(_trailing(f"            {keep}", "own_t") if reverse else f"            {keep}")
        moved = f"h_{previous}, c_{previous} = h_t, c_t" if spec.lstm else f"h_{previous} = h_t"
        lines.append(_trailing(f"            {moved}", "new_tensor"))
        lines += _to_h_n(spec, row, h_n_key)
    lines += _comment("both_directions", " " * 8)
    lines.append("        layer_input = torch.cat([torch.stack(forward_output), torch.stack(reverse_output)], dim=-1)")
    if spec.dropout > 0 and spec.num_layers > 1:
        lines += _comment("dropout_bidirectional", " " * 8)
    lines.append(_trailing("    output = layer_input", "top_output", n=n))
    return lines + _time_last(spec) + [_returned(spec, "output", "h_n", "c_n")]


def _packed_bidirectional(spec: RNNSpec) -> list[str]:
    cast = to_float(spec)
    data = _trailing(f"    layer_input = packed_input.data{cast}", "packed_layer_input", shape=tr("(sum of LENGTHS, {features})", features="H_in"))
    lines = _signature(spec, "packed_input") + _packed_opening(spec, data)
    lines.append(_trailing("    h_n = torch.empty_like(h_0)", "h_n_rows"))
    if spec.lstm:
        lines.append("    c_n = torch.empty_like(c_0)")
    lines += [
        "    for layer in range(NUM_LAYERS):",
        _trailing("        x = layer_input.split(batch_sizes)", "split_layer"),
    ]
    for previous, row, steps, keep, h_n_key in (
        ("t_minus_1", "layer * 2", "range(len(batch_sizes))", "forward_output.append(h_t[:running].clone())", "packed_forward_h_n"),
        ("t_plus_1", "layer * 2 + 1", "reversed(range(len(batch_sizes)))", "reverse_output[t] = h_t[:running].clone()", "reverse_h_n"),
    ):
        reverse = previous == "t_plus_1"
        lines += _comment("reverse_direction" if reverse else "forward_direction", " " * 8, layer="{layer}")
        if reverse:
            lines += _comment("packed_reverse", " " * 8)
        lines += _direction_state(spec, previous, row, ".clone()")
        lines.append(f"        h_t = h_0[{row}].clone()")
        if spec.lstm:
            lines.append(f"        c_t = c_0[{row}].clone()")
        lines.append("        reverse_output = [None] * len(batch_sizes)" if reverse else "        forward_output = []")
        lines += [f"        for t in {steps}:", _trailing("            running = batch_sizes[t]", "running")]
        key = "_l{layer}_reverse" if reverse else "_l{layer}"
        lines += _indented(" " * 12, _step(spec, x="x[t]", h=f"h_{previous}[:running]", c=f"c_{previous}[:running]",
                                           new_h="h_t[:running]", new_c="c_t[:running]", key=key, n="running, "))
        lines.append(_trailing(f"            {keep}", "own_t") if reverse else f"            {keep}")
        lines.append(_trailing(f"            h_{previous} = h_t.clone()", "step_clone"))
        if spec.lstm:
            lines.append(f"            c_{previous} = c_t.clone()")
        lines += _to_h_n(spec, row, h_n_key)
    lines += _comment("both_directions", " " * 8)
    lines.append("        layer_input = torch.cat([torch.cat(forward_output), torch.cat(reverse_output)], dim=-1)")
    if spec.dropout > 0 and spec.num_layers > 1:
        lines += _comment("dropout_bidirectional", " " * 8)
    lines += _unsort(spec, "h_n", "c_n")
    return lines + [_returned(spec, "layer_input", "h_n", "c_n")]


# ---- cells ----------------------------------------------------------------------


def cell_loop(spec: RNNSpec) -> list[str]:
    """Section 5's loop: the documentation's loop with one layer, the cell's step inside."""
    cell, n = spec.mode, "" if spec.unbatched else "N, "
    example = "hx, cx = rnn(input[i], (hx, cx))" if spec.lstm else "hx = rnn(input[i], hx)"
    lines = ["", "", *_comment("cell_loop", module=spec.module_name, example=example)]
    lines += _signature(spec, "x") + [_trailing("    seq_len = x.size(0)", "seq_len"), "    h_t_minus_1 = h_0"]
    if spec.lstm:
        lines.append("    c_t_minus_1 = c_0")
    step = f"h_t, c_t = {cell}(x[t], (h_t_minus_1, c_t_minus_1))" if spec.lstm else f"h_t = {cell}(x[t], h_t_minus_1)"
    moved = "h_t_minus_1, c_t_minus_1 = h_t, c_t" if spec.lstm else "h_t_minus_1 = h_t"
    lines += [
        "    output = []",
        "    for t in range(seq_len):",
        _trailing(f"        {step}", "cell_step", shape=shape_text(n, "H_in")),
        _trailing("        output.append(h_t)", "cell_append"),
        _trailing(f"        {moved}", "cell_new"),
        f"    output = torch.stack(output)  # (L, {n}H)",
        _returned(spec, "output", "h_t", "c_t"),
        "",
        "",
        _trailing("with torch.no_grad():", "no_grad"),
    ]
    if spec.lstm:
        lines.append("    cell_output, (last_h, last_c) = forward(x_seq, (h_0, c_0))")
    else:
        lines.append("    cell_output, last_h = forward(x_seq, h_0)")
    return lines


def cell_by_hand(spec: RNNSpec) -> str:
    """Section 6: the one step from the documented equations, on params as the layer loop reads them."""
    cast = to_float(spec)
    lines = ["", _section(_say("section_cell_step"))]
    lines += _comment("cell_equations", module=spec.module_name)
    lines += _params(spec, spec.mode, "cell_param_names")
    lines += _step(spec, x=f"x{cast}", h=f"h_0{cast}", c=f"c_0{cast}", new_h="ref_h_1", new_c="ref_c_1", key="",
                   n="" if spec.unbatched else "N, ")
    lines.append("")
    return "\n".join(lines)
