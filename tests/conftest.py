"""What every test process shares.

pytest-xdist's workers inherit COLUMNS=80 (and LINES) from the controller, which
a plain run does not have: the width of piped output would then depend on how
the suite was started. Tests that care about the width set it themselves.
"""

import os

for name in ("COLUMNS", "LINES"):
    os.environ.pop(name, None)
