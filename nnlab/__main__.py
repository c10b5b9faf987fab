"""`python -m nnlab ...`: the same entry point as the `nnlab` command."""
import sys

from nnlab.cli import main

sys.exit(main())
