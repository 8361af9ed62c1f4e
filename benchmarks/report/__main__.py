"""``python -m benchmarks.report``: the command line of :mod:`benchmarks.report.run`."""

import sys

from benchmarks.report.run import main

# the guard matters: spawned worker processes import this module again under another name
if __name__ == "__main__":
    sys.exit(main())
