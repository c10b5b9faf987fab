"""Start nnlab: `python main.py [gui] [SCENE]` opens the app; see `python main.py --help` for the other commands."""
import sys

from nnlab.cli import main

if __name__ == "__main__":
    sys.exit(main())
