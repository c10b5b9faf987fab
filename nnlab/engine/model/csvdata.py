"""Training data from a CSV file: columns x1, x2, y (header required, any order), one sample per row.

Every problem is a CsvError (an NnlabError) naming the file and, for a bad row, its line number and column, so
the user can fix the file: "data.csv line 7: column x2 is not a number". Messages never quote the file's content:
a scene can name any file, and an error must not print what the user did not ask to see.
The file must be a regular file of at most MAX_CSV_BYTES with at most MAX_ROWS data rows (the scene's sample limit),
checked before it is parsed: /dev/zero or a 6 GB log is refused at once instead of exhausting memory.
"""
from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from nnlab.engine.model.scene import MAX_SAMPLES
from nnlab.engine.files import read_regular_file
from nnlab.errors import NnlabError

COLUMNS = ("x1", "x2", "y")
MAX_CSV_BYTES = 100_000_000  # ~3 M rows of three numbers, far more than MAX_ROWS needs
MAX_ROWS = MAX_SAMPLES
MAX_LINES = 2 * MAX_ROWS  # data rows plus room for comments and blank lines


class CsvError(NnlabError):
    """A CSV data file cannot be used; one line naming the file (and line and column where it applies)."""


def _fields(line: str) -> list[str]:
    return [f.strip() for f in next(csv.reader([line], skipinitialspace=True))]


def load_csv_samples(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(X (N, 2), y (N,)) float64 from the file. Blank lines and lines starting with '#' are skipped."""
    p = Path(path)
    name = p.name
    raw = read_regular_file(p, MAX_CSV_BYTES, "CSV file", CsvError)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvError(f"{name}: not a UTF-8 text file") from None
    del raw
    if text.count("\n") > MAX_LINES:  # counted before the text is split into (many small) strings
        raise CsvError(f"{name}: more than {MAX_LINES:,} lines; the limit is {MAX_ROWS:,} samples")
    rows = [(i, ln) for i, ln in enumerate(text.splitlines(), start=1) if ln.strip() and not ln.lstrip().startswith("#")]
    if not rows:
        raise CsvError(f"{name}: the file is empty; expected a header line x1,x2,y and one sample per line")
    if len(rows) > MAX_ROWS + 1:
        raise CsvError(f"{name}: {len(rows) - 1:,} data rows; the limit is {MAX_ROWS:,} samples")
    head_no, head = rows[0]
    try:
        header = [h.lower() for h in _fields(head)]
    except csv.Error as e:
        raise CsvError(f"{name} line {head_no}: cannot be read as CSV ({e})") from None
    if sorted(header) != sorted(COLUMNS):
        raise CsvError(f"{name} line {head_no}: expected a header naming the columns x1,x2,y (in any order); "
                       f"this line has {len(header)} field{'s' if len(header) != 1 else ''} that do not name them")
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
            try:
                v = float(vals[order[j]])
            except ValueError:  # float() of a text cell: a user's data error, reported without quoting the cell
                raise CsvError(f"{name} line {no}: column {col} is not a number") from None
            if not math.isfinite(v):
                raise CsvError(f"{name} line {no}: column {col} is not a finite number (nan or inf)")
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
