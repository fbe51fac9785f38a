"""What every test process shares.

pytest-xdist's workers inherit COLUMNS=80 (and LINES) from the controller, which
a plain run does not have: the width of piped output would then depend on how
the suite was started. Tests that care about the width set it themselves. The same
for the language: RNNSHAPE_LANG=en, whatever the machine's locale.
"""

import os

for name in ("COLUMNS", "LINES"):
    os.environ.pop(name, None)

# English unless a test asks for another language: a developer's zh_CN locale must not turn the
# English goldens and docs checks into failures (tests/test_language.py sets these itself).
os.environ["RNNSHAPE_LANG"] = "en"


# The one test that takes two minutes (it regenerates every doc page): first in line, so that
# one worker starts it at once while the others share the rest (pyproject: --dist worksteal).
_LONGEST = "tests/test_docs.py::test_generated_docs_are_current"


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.nodeid != _LONGEST)
