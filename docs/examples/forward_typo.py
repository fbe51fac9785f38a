"""The notes' seed 001 as written: its parameter is spelt intput, and its body reads a global input."""

import torch

input = torch.randn(2, 3, 2)  # the notebook's own batch, a global


def rnn_forward(intput, weight_ih, weight_hh, bias_ih, bias_hh, h_prev):
    bs, T, input_size = input.shape
    h_dim = weight_ih.shape[0]
    h_out = torch.zeros(bs, T, h_dim)
    for t in range(T):
        x = input[:, t, :].unsqueeze(2)
        w_ih_batch = weight_ih.unsqueeze(0).tile(bs, 1, 1)
        w_hh_batch = weight_hh.unsqueeze(0).tile(bs, 1, 1)
        w_times_x = torch.bmm(w_ih_batch, x).squeeze(-1)
        w_times_h = torch.bmm(w_hh_batch, h_prev.unsqueeze(2)).squeeze(-1)
        h_prev = torch.tanh(w_times_x + bias_ih + w_times_h + bias_hh)
        h_out[:, t, :] = h_prev
    return h_out, h_prev.unsqueeze(0)


def rnn_forward_x(x, weight_ih, weight_hh, bias_ih, bias_hh, h_prev):
    # The typo "fixed" by naming the parameter x: the body still reads the global input.
    return rnn_forward(x, weight_ih, weight_hh, bias_ih, bias_hh, h_prev)
