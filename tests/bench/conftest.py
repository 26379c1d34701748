"""The bench is not an installed package (it runs as `python -m bench...` from the repository
root): put the root on the import path for these tests only."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
