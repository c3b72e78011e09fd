import sys
from pathlib import Path

# The helpers in rasters.py are imported by the tests as a plain module.
sys.path.insert(0, str(Path(__file__).resolve().parent))
