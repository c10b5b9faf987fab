"""Running a study's tasks on an existing Dask cluster (dask.distributed), with the executor interface of study_run.

The workers need nnlab importable (same environment); they do not need the study's output folder: results come back
to this process, which writes the cache. Start a cluster with e.g.
    dask scheduler --scheduler-file sched.json &  dask worker --scheduler-file sched.json --nthreads 1
and pass the scheduler's address (tcp://host:port) or the scheduler file's path as `--scheduler`.
"""
from __future__ import annotations

import json
import socket
import struct
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from nnlab.engine.study.spec import StudyError

CONNECT_TIMEOUT_S = 5.0  # a scheduler on a reachable host answers in milliseconds; dask's own default waits 30 s
MAX_HANDSHAKE_BYTES = 65_536  # dask's handshake is ~60 bytes; a larger length prefix means the peer is not dask


def scheduler_address(spec: str) -> str:
    """An address as given, or the "address" entry of a scheduler file written by `dask scheduler`."""
    p = Path(spec)
    if "://" not in spec and p.is_file():
        try:
            return str(json.loads(p.read_text())["address"])
        except (OSError, ValueError, KeyError, TypeError):
            raise StudyError(f"{spec}: not a Dask scheduler file (no 'address' entry)") from None
    return spec


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the peer closed the connection")
        data += chunk
    return data


def probe_scheduler(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Check that a tcp:// address is a Dask peer before dask.distributed connects to it: a closed port fails at
    once, and a peer that speaks another protocol is refused here, without dask reading its bytes (dask trusts a
    peer's 8-byte length prefix and allocates that much: random bytes give a MemoryError, silence a long hang).

    Dask's TCP comm (distributed.comm.tcp) sends, right after accepting, a handshake message: a little-endian
    uint64 byte count, then frames (uint64 frame count, uint64 lengths, data) whose first frame is a msgpack map
    with "compression" and "python". Other schemes (tls://, ws://, inproc://) are left to dask.
    """
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme != "tcp":
        return
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or port is None:
        raise StudyError(f"--scheduler {address}: expected an address tcp://HOST:PORT or a scheduler file")
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            (total,) = struct.unpack("<Q", _recv_exactly(sock, 8))
            if not 16 <= total <= MAX_HANDSHAKE_BYTES:
                raise ValueError("no Dask handshake")
            body = _recv_exactly(sock, total)
    except socket.timeout:
        raise StudyError(f"--scheduler {address}: no Dask scheduler answered within {timeout:g} s") from None
    except ValueError:
        raise StudyError(f"--scheduler {address}: the server there is not a Dask scheduler "
                         "(it does not speak the Dask protocol)") from None
    except OSError as e:
        raise StudyError(f"--scheduler {address}: cannot connect ({e.strerror or e})") from None
    if not _is_dask_handshake(body):
        raise StudyError(f"--scheduler {address}: the server there is not a Dask scheduler "
                         "(it does not speak the Dask protocol)")


def _is_dask_handshake(body: bytes) -> bool:
    import msgpack

    try:
        (count,) = struct.unpack_from("<Q", body, 0)
        if not 1 <= count <= 16 or len(body) < 8 * (count + 1):
            return False
        lengths = struct.unpack_from(f"<{count}Q", body, 8)
        start = 8 * (count + 1)
        if start + sum(lengths) != len(body):
            return False
        msg = msgpack.unpackb(body[start:start + lengths[0]], raw=False, strict_map_key=False)
    except (struct.error, ValueError, msgpack.UnpackException, TypeError, OverflowError):
        return False
    return isinstance(msg, dict) and "compression" in msg and "python" in msg


class DaskExecutor:
    """submit/wait/close over a dask.distributed Client connected to `address`."""

    def __init__(self, address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
        from dask.distributed import Client

        addr = scheduler_address(address)
        probe_scheduler(addr, timeout)
        try:
            self.client = Client(addr, timeout=timeout)
        except (OSError, TimeoutError) as e:
            raise StudyError(f"--scheduler {addr}: cannot connect to the Dask scheduler ({e})") from None

    def submit(self, fn: Callable, *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def wait(self, futures: Any) -> set:
        from dask.distributed import wait

        return set(wait(list(futures), return_when="FIRST_COMPLETED").done)

    def close(self, cancel: bool = False) -> None:
        self.client.close()
