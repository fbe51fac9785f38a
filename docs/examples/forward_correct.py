"""A learner's forward pass for a one-layer nn.RNN with batch_first=True (the notes' seed 001).

rnnshape calls rnn_forward by its parameters' names: input, the module's weights
(weight_ih, ... are weight_ih_l0, ... of a one-layer, one-direction layer) and
h_prev, which for one layer is h_0[0], shaped (N, H) as a step reads it.
"""

import torch


def rnn_forward(input, weight_ih, weight_hh, bias_ih, bias_hh, h_prev):
    bs, T, input_size = input.shape
    h_dim = weight_ih.shape[0]
    h_out = torch.zeros(bs, T, h_dim, dtype=input.dtype)
    for t in range(T):
        x = input[:, t, :].unsqueeze(2)  # (bs, input_size, 1)
        w_ih_batch = weight_ih.unsqueeze(0).tile(bs, 1, 1)  # (bs, h_dim, input_size)
        w_hh_batch = weight_hh.unsqueeze(0).tile(bs, 1, 1)  # (bs, h_dim, h_dim)
        w_times_x = torch.bmm(w_ih_batch, x).squeeze(-1)  # (bs, h_dim)
        w_times_h = torch.bmm(w_hh_batch, h_prev.unsqueeze(2)).squeeze(-1)
        h_prev = torch.tanh(w_times_x + bias_ih + w_times_h + bias_hh)
        h_out[:, t, :] = h_prev
    return h_out, h_prev.unsqueeze(0)  # output (N, L, H) and h_n (1, N, H), as nn.RNN returns them
