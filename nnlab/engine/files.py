"""Reading user-named files safely and writing files atomically: the one place every engine module does either."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def read_regular_file(path: str | os.PathLike, max_bytes: int, what: str,
                      error: type[Exception]) -> bytes:
    """The bytes of a user-named file, refused before reading when it is not a regular file (a device such as
    /dev/zero, a FIFO, a folder) or larger than `max_bytes`; `error` is raised with one line naming the file."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # opening a FIFO must not wait for a writer
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise error(f"{p}: not a regular file; expected a {what}")
            if st.st_size > max_bytes:
                raise error(f"{p}: {st.st_size:,} bytes is too large for a {what}; the limit is {max_bytes:,} bytes")
            data = fh.read(max_bytes + 1)  # a file that grows while read is still bounded
    except OSError as e:
        raise error(f"{p}: cannot read {what} ({e.strerror or e})") from None
    if len(data) > max_bytes:
        raise error(f"{p}: too large for a {what}; the limit is {max_bytes:,} bytes")
    return data


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename over it."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent if str(p.parent) else ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, _new_file_mode(p))
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _new_file_mode(p: Path) -> int:
    """The mode a plain open() would give: the old file's, else 0666 less the umask (mkstemp makes files 0600)."""
    try:
        return p.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
