"""`--style layers` (the default): section 5 as an explicit loop over layers, then
directions, then time steps, one layer's whole sequence before the next layer's.

Layer by layer, the input term of every time step is one matmul, and a
bidirectional or packed stack reads the same as a unidirectional one: the
directions are one more loop, packed input the same loop once per sequence.

Every comment is said in the language chosen for the run (parts.comment, parts.note).
"""

from __future__ import annotations

from rnnshape.codegen.parts import (
    comment,
    gate_prefix,
    half_note,
    is_half,
    note,
    rule,
    shape_text,
    to_float,
)
from rnnshape.language import said
from rnnshape.spec import RNNSpec


def title(spec: RNNSpec) -> str:
    """The script's first line."""
    if spec.is_cell:
        layer = spec.module_name.removesuffix("Cell")
        return said("nn.{module}, recomputed by hand: one time step, then the loop that makes it nn.{layer}.",
                    module=spec.module_name, layer=layer)
    return said("nn.{module}, recomputed by hand: an explicit loop over layers, directions and time steps.",
                module=spec.module_name)


def loop(spec: RNNSpec) -> str:
    lines = ["", rule(said("5. The same computation, written out"), 81)]
    lines += _param_function(spec)
    cast = to_float(spec)
    # Bring everything to (L, N, features), the layout the loop walks.
    if spec.unbatched:
        lines += comment(said("Unbatched input is a batch of one to torch: add N = 1 so one loop serves both."))
        lines += [
            f"layer_input = x{cast}.unsqueeze(1)  # (L, 1, H_in)",
            f"h_start = h_0{cast}.unsqueeze(1)  # (rows, 1, H_out)",
        ]
        if spec.lstm:
            lines.append(f"c_start = c_0{cast}.unsqueeze(1)  # (rows, 1, H)")
    else:
        if spec.batch_first:
            lines += comment(said(
                "The loop walks time along dim 0: bring the batch_first input to (L, N, H_in).\n"
                "h_0 needs no transpose: batch_first never applies to the states."
            ))
            lines.append(f"layer_input = x{cast}.transpose(0, 1)")
        else:
            lines.append(note(f"layer_input = x{cast}", said("layer 0 reads x: (L, N, H_in)")))
        lines.append(f"h_start = h_0{cast}")
        if spec.lstm:
            lines.append(f"c_start = c_0{cast}")
    if spec.packed:
        lines += _packed_by_hand(spec)
    else:
        lines += _layers(spec)
        lines += ["", note("ref_output = layer_input", said("the top layer's output, every step")), "ref_h_n = torch.stack(h_n_rows)"]
        if spec.lstm:
            lines.append("ref_c_n = torch.stack(c_n_rows)")
    if spec.unbatched:
        lines += comment(said("Back to torch's unbatched layout: drop the N = 1 added above."))
        lines.append("ref_output, ref_h_n = ref_output.squeeze(1), ref_h_n.squeeze(1)")
        if spec.lstm:
            lines.append("ref_c_n = ref_c_n.squeeze(1)")
    elif spec.batch_first:
        lines.append(note("ref_output = ref_output.transpose(0, 1)", said("output follows batch_first; h_n does not")))
    lines.append("")
    return "\n".join(lines)


def _param_function(spec: RNNSpec) -> list[str]:
    """param(name): a parameter of the module, as the hand-written computation reads it."""
    lines = []
    if is_half(spec):
        lines += half_note(spec) + [""]
    return lines + ["def param(name):", f"    return getattr({spec.mode}, name).detach(){to_float(spec)}", ""]


def _layers(spec: RNNSpec) -> list[str]:
    """The loop over layers, directions and time steps, from layer_input and h_start (c_start).

    Leaves the top layer's output in layer_input and the last states in h_n_rows (c_n_rows).
    """
    lstm, gru = spec.lstm, spec.mode == "gru"
    lines = [note("h_n_rows = []", said("appended layer by layer, direction by direction: row layer*D + direction"))]
    if lstm:
        lines.append(note("c_n_rows = []", said("same rows as h_n")))
    lines.append("")

    G = gate_prefix(spec)
    in_shape = "H_in" if spec.num_layers == 1 else said("H_in at layer 0, D*H_out above")
    body = ["for layer in range(NUM_LAYERS):"]
    if spec.bidirectional:
        body += [
            note("    directions = []", said("this layer's output, one (L, N, H_out) tensor per direction")),
            "    for direction, suffix in ((0, \"\"), (1, \"_reverse\")):",
        ]
        ind = " " * 8
    else:
        ind = " " * 4
    suffix = "{suffix}" if spec.bidirectional else ""  # unidirectional: no _reverse parameters

    def load(kind: str, shape: str) -> str:
        return f"{ind}{kind} = param(f\"{_PARAM_NAMES[kind]}_l{{layer}}{suffix}\")  # {shape}"

    body += [load("W_ih", f"({G}H, {in_shape})"), load("W_hh", f"({G}H, H_out)")]
    if spec.bias:
        body += [load("b_ih", f"({G}H,)"), load("b_hh", f"({G}H,)")]
    if spec.proj_size:
        body.append(load("W_hr", said("(P, H): the projection")))
    # The input term does not depend on h: one matmul covers every time step.
    body += comment(said("The input term does not depend on h, so one matmul does it for all L steps at once."), ind)
    if gru and spec.bias:
        body += comment(said("(GRU keeps b_hh out of it: b_hn sits inside r * (...), see below.)"), ind)
    body.append(f"{ind}x_proj = layer_input @ W_ih.T{_input_bias(spec)}  # (L, N, {G}H)")
    if spec.bidirectional:
        body.append(note(f"{ind}row = layer * D + direction", said("this (layer, direction)'s row of h_0 and h_n")))
    else:
        body.append(note(f"{ind}row = layer", said("row layer*D + direction with D = 1, direction = 0")))
    body.append(f"{ind}h = h_start[row]  # (N, H_out)")
    if lstm:
        body.append(f"{ind}c = c_start[row]  # (N, H)")
    body.append(f"{ind}steps_out = [None] * L")
    if spec.bidirectional:
        body += comment(said(
            "Forward reads t = 0..L-1; reverse reads the same input from t = L-1 down to 0,\n"
            "and stores each h at its own t, so output[t] lines up for both directions."
        ), ind)
        if spec.packed:
            body += comment(said(
                "L is this sequence's own length: the reverse direction starts at its last\n"
                "real step, never at the padding."
            ), ind)
        body += [
            f"{ind}steps = range(L) if direction == 0 else range(L - 1, -1, -1)",
            f"{ind}for t in steps:",
        ]
    else:
        body.append(f"{ind}for t in range(L):")
    ind2 = ind + "    "
    body += [ind2 + line for line in _cell(spec)]
    body.append(f"{ind2}steps_out[t] = h")
    if spec.bidirectional:
        body.append(f"{ind}directions.append(torch.stack(steps_out))  # (L, N, H_out)")
        if spec.packed:
            body += comment(said("The last step taken: t = L-1 forward (this sequence's last real step), t = 0 reverse. "
                                 "That is h_n's row."), ind)
        else:
            body += comment(said("The last step taken: t = L-1 forward, t = 0 reverse. That is h_n's row."), ind)
        body.append(f"{ind}h_n_rows.append(h)")
        if lstm:
            body.append(f"{ind}c_n_rows.append(c)")
        body += comment(said("The next layer reads both directions side by side at each t: (L, N, D*H_out)."), "    ")
        body.append("    layer_input = torch.cat(directions, dim=-1)")
    else:
        if spec.packed:
            body.append(note(f"{ind}h_n_rows.append(h)", said("the state after the last step, t = L-1 (this sequence's last real step)")))
        else:
            body.append(note(f"{ind}h_n_rows.append(h)", said("the state after the last step, t = L-1")))
        if lstm:
            body.append(f"{ind}c_n_rows.append(c)")
        body.append(note("    layer_input = torch.stack(steps_out)", said("the next layer reads this: (L, N, H_out)")))
    if spec.dropout > 0 and spec.num_layers > 1:
        body += comment(said("(in training, dropout would act here, on the input of the next layer)"), "    ")
    return lines + body


def _packed_by_hand(spec: RNNSpec) -> list[str]:
    """The layer loop as a function, run once per sequence up to its own length."""
    states = "h_start, c_start" if spec.lstm else "h_start"
    returned = "layer_input, torch.stack(h_n_rows)" + (", torch.stack(c_n_rows)" if spec.lstm else "")
    lines = ["", "", f"def run_by_hand(layer_input, {states}):"]
    if spec.lstm:
        lines += comment(said(
            "The explicit loop for sequences that all have the same length L: layer_input is\n"
            "(L, N, H_in), h_start (rows, N, H_out). Returns their output, h_n and c_n."
        ), "    ")
    else:
        lines += comment(said(
            "The explicit loop for sequences that all have the same length L: layer_input is\n"
            "(L, N, H_in), h_start (rows, N, H_out). Returns their output, h_n and nothing else."
        ), "    ")
    lines.append(note("    L = layer_input.shape[0]", said("this call's own length, not the padded one")))
    lines += [("    " + line).rstrip() for line in _layers(spec)]
    lines += [f"    return {returned}", "", ""]

    per_sequence = "layer_input[:length, i : i + 1], h_start[:, i : i + 1]"
    if spec.lstm:
        per_sequence += ", c_start[:, i : i + 1]"
    got = "out_i, h_n_i, c_n_i" if spec.lstm else "out_i, h_n_i"
    lines += comment(said(
        "Packed input: each sequence runs alone, for its own length only, from its own\n"
        "column of h_0; the padding is never read. So run the loop once per sequence."
    ))
    if not spec.enforce_sorted:
        lines += comment(said("(torch runs them sorted longest first; one at a time, the order does not matter.)"))
    lines += [
        note("ref_output = torch.zeros(L, N, D * H_out, dtype=layer_input.dtype)", said("zeros: what pad_packed_sequence pads with")),
        note("h_n_columns = []", said("one (rows, 1, H_out) per sequence, in the batch's original order")),
    ]
    if spec.lstm:
        lines.append("c_n_columns = []")
    lines += [
        "for i, length in enumerate(LENGTHS):",
        f"    {got} = run_by_hand({per_sequence})",
        note("    ref_output[:length, i : i + 1] = out_i", said("steps from length on stay zero")),
        note("    h_n_columns.append(h_n_i)", said("each sequence's own last real step, not the padded end")),
    ]
    if spec.lstm:
        lines.append("    c_n_columns.append(c_n_i)")
    lines.append("ref_h_n = torch.cat(h_n_columns, dim=1)  # (rows, N, H_out)")
    if spec.lstm:
        lines.append("ref_c_n = torch.cat(c_n_columns, dim=1)")
    return lines


_PARAM_NAMES = {"W_ih": "weight_ih", "W_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh", "W_hr": "weight_hr"}


def _input_bias(spec: RNNSpec) -> str:
    """The biases added to the input term: both, except GRU's b_hh, which stays inside r * (...)."""
    if not spec.bias:
        return ""
    return " + b_ih" if spec.base_mode == "gru" else " + b_ih + b_hh"


def _cell(spec: RNNSpec, x_term: str = "x_proj[t]", n: str = "N, ") -> list[str]:
    """One time step of one direction of one layer: h (and c) from x_term, the input term
    x W_ih^T + biases at this step, and the previous state. n: the batch part of the shapes."""
    bias_hh = " + b_hh" if spec.bias else ""
    if spec.base_mode == "rnn":
        f = "torch.tanh" if spec.nonlinearity == "tanh" else "torch.relu"
        return [f"h = {f}({x_term} + h @ W_hh.T)  # {shape_text(n, 'H')}"]
    if spec.base_mode == "gru":
        return [
            note(f"hh = h @ W_hh.T{bias_hh}", said("{shape}: the blocks r, z, n, H columns each", shape=shape_text(n, "3*H"))),
            f"x_r, x_z, x_n = {x_term}.chunk(3, dim=-1)",
            "hh_r, hh_z, hh_n = hh.chunk(3, dim=-1)",
            note("r = torch.sigmoid(x_r + hh_r)", said("reset gate")),
            note("z = torch.sigmoid(x_z + hh_z)", said("update gate")),
            note("n = torch.tanh(x_n + r * hh_n)",
                 said("candidate; r scales ({term})", term="h W_hn^T" + (" + b_hn" if spec.bias else ""))),
            note("h = (1 - z) * n + z * h", said("z = 1 keeps the old state")),
        ]
    lines = [
        note(f"gates = {x_term} + h @ W_hh.T", said("{shape}: the blocks i, f, g, o, H columns each", shape=shape_text(n, "4*H"))),
        "i, f, g, o = gates.chunk(4, dim=-1)",
        "i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)",
        note("c = f * c + i * g", said("forget part of the old cell state, write part of the new one")),
    ]
    if spec.proj_size:
        lines += [
            f"h = o * torch.tanh(c)  # {shape_text(n, 'H')}",
            note("h = h @ W_hr.T", said("projected: {h} -> {p}; the next step and layer see P numbers",
                                        h=shape_text(n, "H"), p=shape_text(n, "P"))),
        ]
    else:
        lines.append(f"h = o * torch.tanh(c)  # {shape_text(n, 'H')}")
    return lines


def cell_loop(spec: RNNSpec) -> list[str]:
    """Section 5's loop: the cell over x_seq, step by step, carrying the state."""
    cell, n = spec.mode, "" if spec.unbatched else "N, "
    # The state a step takes and returns: h, or LSTM's pair (h, c).
    state, state_0, state_arg = ("h, c", "h_0, c_0", "(h, c)") if spec.lstm else ("h", "h_0", "h")
    return [
        "with torch.no_grad():",
        f"    {state} = {state_0}",
        "    cell_outputs = []",
        "    for t in range(L):",
        note(f"        {state} = {cell}(x_seq[t], {state_arg})", said("one step: x_seq[t] is {shape}", shape=shape_text(n, "H_in"))),
        note("        cell_outputs.append(h)", said("a layer's output at t is its h at t")),
        f"cell_output = torch.stack(cell_outputs)  # (L, {n}H)",
        note("last_h, last_c = h, c", said("the state after the last step: a layer's h_n and c_n"))
        if spec.lstm
        else note("last_h = h", said("the state after the last step: a layer's h_n")),
    ]


def cell_by_hand(spec: RNNSpec) -> str:
    """Section 6: the one step from the equations, reusing the layer loop's _cell."""
    cast = to_float(spec)
    G = gate_prefix(spec)
    n = "" if spec.unbatched else "N, "
    lines = ["", rule(said("6. The one step, written out"), 81)]
    lines += _param_function(spec)
    lines += [
        note('W_ih = param("weight_ih")', said("({G}H, H_in): no _l0 suffix, a cell has one layer", G=G)),
        f'W_hh = param("weight_hh")  # ({G}H, H)',
    ]
    if spec.bias:
        lines += [f'b_ih = param("bias_ih")  # ({G}H,)', f'b_hh = param("bias_hh")  # ({G}H,)']
    if spec.base_mode == "gru" and spec.bias:
        lines += comment(said("(GRU keeps b_hh out of the input term: b_hn sits inside r * (...), see below.)"))
    lines += [
        note(f"x_proj = x{cast} @ W_ih.T{_input_bias(spec)}", said("{shape}: the input term", shape=shape_text(n, G + "H"))),
        f"h = h_0{cast}",
    ]
    if spec.lstm:
        lines.append(f"c = c_0{cast}")
    lines += _cell(spec, x_term="x_proj", n=n)
    lines.append("ref_h_1 = h")
    if spec.lstm:
        lines.append("ref_c_1 = c")
    lines.append("")
    return "\n".join(lines)
