"""The mistakes verify --against recognises: the table it reads (rnnshape.learner.mistakes), printed."""

from rnnshape.learner.mistakes import MISTAKES

for mistake in MISTAKES:
    how = {"numbers": "its numbers", "probe": "a second call", "exception": "the exception"}[mistake.evidence]
    if mistake.raised is not None and mistake.evidence != "exception":
        how += " or the exception"
    print(f"{mistake.name:24} {mistake.title} (from {how})\n{'':24} fix: {mistake.fix}")
