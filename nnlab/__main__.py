"""`python -m nnlab ...`: the same entry point as the `nnlab` command."""
import sys

try:  # an interrupt while the (small) entry module loads is still one line, not a traceback
    from nnlab.cli.main import main
except KeyboardInterrupt:
    sys.stderr.write("nnlab: interrupted\n")
    sys.exit(130)

sys.exit(main())
