"""Training data from a CSV file: columns x1, x2, y (header required, any order), one sample per row.

Every problem is a ValueError (CsvError) naming the file and, for a bad row, its line number and column, so
the user can fix the file: "data.csv line 7: 'abc' is not a number in column x2".
"""
from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from nnlab.errors import NnlabError

COLUMNS = ("x1", "x2", "y")


class CsvError(NnlabError):
    """A CSV data file cannot be used; one line naming the file (and line and column where it applies)."""


def _fields(line: str) -> list[str]:
    return [f.strip() for f in next(csv.reader([line], skipinitialspace=True))]


def load_csv_samples(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(X (N, 2), y (N,)) float64 from the file. Blank lines and lines starting with '#' are skipped."""
    p = Path(path)
    name = p.name
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise CsvError(f"{name}: cannot read the file ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise CsvError(f"{name}: not a UTF-8 text file") from None
    rows = [(i, ln) for i, ln in enumerate(text.splitlines(), start=1) if ln.strip() and not ln.lstrip().startswith("#")]
    if not rows:
        raise CsvError(f"{name}: the file is empty; expected a header line x1,x2,y and one sample per line")
    head_no, head = rows[0]
    header = [h.lower() for h in _fields(head)]
    if sorted(header) != sorted(COLUMNS):
        raise CsvError(f"{name} line {head_no}: expected a header naming the columns x1,x2,y (in any order), "
                       f"got {head.strip()!r}")
    order = [header.index(c) for c in COLUMNS]
    data = np.empty((len(rows) - 1, 3), dtype=np.float64)
    for k, (no, line) in enumerate(rows[1:]):
        try:
            vals = _fields(line)
        except csv.Error as e:
            raise CsvError(f"{name} line {no}: cannot be read as CSV ({e})") from None
        if len(vals) != len(header):
            raise CsvError(f"{name} line {no}: expected {len(header)} values ({','.join(header)}), got {len(vals)}")
        for j, col in enumerate(COLUMNS):
            raw = vals[order[j]]
            try:
                v = float(raw)
            except ValueError:
                raise CsvError(f"{name} line {no}: {raw!r} is not a number in column {col}") from None
            if not math.isfinite(v):
                raise CsvError(f"{name} line {no}: {raw!r} in column {col} is not a finite number")
            data[k, j] = v
    if len(data) == 0:
        raise CsvError(f"{name}: no data rows after the header")
    return data[:, :2].copy(), data[:, 2].copy()


def sample_box(X: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The bounding box of the samples, widened to width 1 along any coordinate where all samples agree,
    so that a network box taken from it is never empty."""
    X = np.asarray(X, dtype=np.float64)
    lo, hi = X.min(axis=0), X.max(axis=0)
    flat = hi <= lo
    lo, hi = np.where(flat, lo - 0.5, lo), np.where(flat, hi + 0.5, hi)
    return tuple(float(v) for v in lo), tuple(float(v) for v in hi)
