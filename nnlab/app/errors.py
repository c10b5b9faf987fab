"""How the app reports an exception: a user error (NnlabError, or OSError for a file) as its one-line message; any
other exception is a bug, never dressed up as bad input: its traceback goes to stderr and the status bar says
"internal error: ..."."""
from __future__ import annotations

import sys
import traceback

from nnlab.errors import NnlabError

USER_ERRORS = (NnlabError, OSError)


def describe(e: BaseException) -> str:
    """The text to show for `e` (and, for a bug, its traceback on stderr)."""
    if isinstance(e, USER_ERRORS):
        return " ".join((str(e) or type(e).__name__).split())
    remote = getattr(e, "remote_traceback", "")  # raised in a worker process (nnlab.app.hosts)
    if remote:
        sys.stderr.write(f"nnlab: internal error in a worker process:\n{remote}")
    else:
        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
    return f"internal error: {type(e).__name__}: {e}"
