"""The client is its own package (client/, installed with `pip install -e client` by `make`);
make it importable here even where it is not installed."""

import sys
from pathlib import Path

try:
    import benchclient  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "client"))
