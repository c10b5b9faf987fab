"""The one base of user errors.

Anything the user can get wrong (a scene field, a model file, a command-line value, a size that cannot be honoured)
raises a subclass of NnlabError with a one-line message that names the problem. The CLI turns NnlabError (and OSError
on a user's path) into that line and exit code 2; every other exception is a bug and keeps its traceback (exit 1).
"""
from __future__ import annotations


class NnlabError(Exception):
    """A user error: shown as one line (CLI: exit code 2; app: status bar), never a traceback."""


class UsageError(NnlabError):
    """A command-line value or combination of options that cannot be used."""


class LimitError(NnlabError):
    """A size, count or duration beyond what nnlab accepts, refused before any work starts."""


class SceneError(NnlabError):
    """A scene field, section or file that cannot be used (targets and scenes share it, so it sits below both)."""
