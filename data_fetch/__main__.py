"""``python -m data_fetch``."""
import sys

from .cli import main

sys.exit(main())
