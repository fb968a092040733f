"""Which installation of the agents the tests drive.

The main run drives the agents installed beside the interpreter that runs pytest.  A platform
row of the matrix (noxfile.py: el8, el9) builds a virtual environment with that platform's
Python, click, psutil, pip and setuptools, installs the agents there with that pip, and runs
pytest from the main environment with MDLP_AGENTS_BIN pointing at the row's bin directory: the
tests stay the same, the agents run on the old stack.  Tests that import the package in this
process (marked `inprocess`) say nothing about another interpreter; the rows leave them out.
"""

import os
import sys
from pathlib import Path

BIN_DIR = Path(os.environ.get("MDLP_AGENTS_BIN") or Path(sys.executable).parent)
PYTHON = BIN_DIR / "python"             # the agents' interpreter
PLATFORM = os.environ.get("MDLP_PLATFORM", "current")   # el8, el9 or current (noxfile.PLATFORMS)
