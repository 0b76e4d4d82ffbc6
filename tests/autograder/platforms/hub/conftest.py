"""tests/autograder/platforms/hub: the course hub's helpers (hub_env) importable by its tests."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
