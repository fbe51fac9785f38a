"""`rnnshape verify --against FILE.py:FUNCTION`: a learner's own forward function checked against torch.

The function takes the reference's place in verify (rnnshape.verification): it
gets the module's own weights and the dummy input by the names of its
parameters, and what it returns is compared with what nn.RNN/nn.LSTM/nn.GRU
returned, by verify's own comparison. Where they differ, the common mistakes
are recomputed (the reference with a bias left out, the gates reordered, ...)
and those whose numbers match the learner's are named.

One job per module:
    loading.py   FILE.py:FUNCTION -> the function (summary TARGET's importer)
    binding.py   the function's parameter names -> the values it is given
    returns.py   what it returned -> output, h_n, c_n (the contract, exit 2 otherwise)
    wrong.py     the numbers each mistake would give: the reference rerun, changed
    mistakes.py  the table of mistakes: name, what it means, how to spot it, the fix
    diagnose.py  which mistakes fit the learner's numbers, probes, or exception
    against.py   all of it as verify's reference hook, and the report's extra part

Nothing here imports torch at module level: the CLI imports this package only
when --against is given, and torch then only when the layer runs.
"""
