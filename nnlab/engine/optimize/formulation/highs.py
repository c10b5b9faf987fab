"""Direct highspy access shared by the optimizers: a silent solver object and dense row-wise constraint matrices."""
from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

_BANNER_SILENCED = False


def new_highs(threads: int = 1) -> Any:
    """A silent highspy.Highs. HiGHS prints a banner to fd 1 on its first construction in a process, which would
    pollute `nnlab optimize --json` stdout, so that first construction runs with fd 1 pointed at /dev/null."""
    global _BANNER_SILENCED
    import highspy

    if _BANNER_SILENCED:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _BANNER_SILENCED = True
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", threads)
    return h


def set_dense_rows(lp: Any, A: np.ndarray) -> None:
    """Fill a HighsLp's constraint matrix with the dense (m, n) array A, row-wise."""
    import highspy

    m, n = A.shape
    mat = lp.a_matrix_
    mat.format_ = highspy.MatrixFormat.kRowwise
    mat.num_col_, mat.num_row_ = n, m
    mat.start_ = np.arange(0, m * n + 1, n, dtype=np.int32)
    mat.index_ = np.tile(np.arange(n, dtype=np.int32), m)
    mat.value_ = np.ascontiguousarray(A, dtype=np.float64).ravel()
