"""`python -m scoring.runner JOB_DIR MODEL_DIR` (see scoring/runner/__init__.py)."""

import os
import sys

from scoring.runner import main

if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # without waiting for threads the model may have left running
