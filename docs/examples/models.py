"""Small real models for the "Your own model" page and `rnnshape summary docs/examples/models.py:tagger`.

Plain module-level classes, and one factory each (a function that returns the model),
so that the command line can name them: docs/examples/models.py:tagger.
"""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence


class Tagger(nn.Module):
    """Token ids (N, L) -> one tag score per token (N, L, tags): embedding, bidirectional LSTM, linear."""

    def __init__(self, vocab=100, embed=16, hidden=32, tags=5):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, tags)

    def forward(self, tokens):
        output, _ = self.lstm(self.embed(tokens))
        return self.head(output)


class Seq2Seq(nn.Module):
    """Token ids (N, L) -> (N, steps, vocab): a GRU reads them, a GRUCell writes `steps` tokens one by one."""

    def __init__(self, vocab=50, embed=16, hidden=32, steps=20):
        super().__init__()
        self.steps = steps
        self.embed = nn.Embedding(vocab, embed)
        self.encoder = nn.GRU(embed, hidden, batch_first=True)
        self.decoder = nn.GRUCell(embed, hidden)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, tokens):
        _, h_n = self.encoder(self.embed(tokens))
        h = h_n[0]  # (N, hidden): the encoder's last state starts the decoder
        token = tokens[:, 0]  # start from the first token
        scores = []
        for _ in range(self.steps):
            h = self.decoder(self.embed(token), h)
            step = self.out(h)
            scores.append(step)
            token = step.argmax(dim=-1)  # greedy: the best token goes in next
        return torch.stack(scores, dim=1)


class PackedClassifier(nn.Module):
    """Features (N, L, 8) of sequences of different lengths -> one class score vector per sequence."""

    def __init__(self, features=8, hidden=24, classes=3):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x, lengths=None):
        if lengths is None:  # the command line passes tensors only: every sequence full length, bar the first
            lengths = torch.full((x.size(0),), x.size(1))
            lengths[0] = max(1, x.size(1) // 2)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        return self.head(h_n[-1])  # h_n comes back in the batch's own order


class Broken(nn.Module):
    """A language model whose state is made once for a batch of 32: the last, smaller batch breaks it."""

    def __init__(self, vocab=100, embed=16, hidden=32):
        super().__init__()
        self.hidden = hidden
        self.embed = nn.Embedding(vocab, embed)
        self.rnn = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)
        self.state = self.init_hidden(32)

    def init_hidden(self, batch_size):
        return torch.zeros(1, batch_size, self.hidden), torch.zeros(1, batch_size, self.hidden)

    def forward(self, tokens):
        output, self.state = self.rnn(self.embed(tokens), self.state)
        self.state = tuple(s.detach() for s in self.state)
        return self.head(output)


def tagger():
    return Tagger()


def seq2seq():
    return Seq2Seq()


def packed_classifier():
    return PackedClassifier()


def broken():
    return Broken()
