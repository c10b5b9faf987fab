"""Small array kernels of the 2-D region enumeration: a BLAS product that stays single-threaded, and concatenated
ranges."""
from __future__ import annotations

import numpy as np

MNK = 262_144  # OpenBLAS runs gemm single-threaded up to this M*N*K


def mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b in column blocks small enough for OpenBLAS to run each single-threaded (M*N*K <= 2**18): on a busy
    2-core machine waking its threads costs tens of ms; einsum avoids that too but is 4x slower than BLAS."""
    m, k = a.shape
    n = b.shape[1]
    kb = max(1, MNK // max(1, m * k))
    if n <= kb:
        return a @ b
    nb = n // kb
    out = np.empty((m, n))
    np.matmul(a, b[:, : nb * kb].reshape(k, nb, kb).transpose(1, 0, 2),
              out=out[:, : nb * kb].reshape(m, nb, kb).transpose(1, 0, 2))
    if nb * kb < n:
        out[:, nb * kb:] = a @ b[:, nb * kb:]
    return out


def ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated aranges starts[i] .. starts[i] + counts[i]."""
    total = int(counts.sum())
    return np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)
