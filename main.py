"""Start nnlab: `python main.py [gui] [SCENE]` opens the app; see `python main.py --help` for the other commands."""
import sys

if __name__ == "__main__":
    try:  # an interrupt while the (small) entry module loads is still one line, not a traceback
        from nnlab.cli.main import main
    except KeyboardInterrupt:
        sys.stderr.write("nnlab: interrupted\n")
        sys.exit(130)
    sys.exit(main())
