"""CSV training data: good files read back exactly, bad rows reported by file, line and column."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnlab.engine.model.csvdata import CsvError, load_csv_samples, sample_box
from nnlab.errors import NnlabError


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_good_file_with_whitespace_comments_and_blank_lines(tmp_path: Path) -> None:
    p = write(tmp_path, "# samples\n x1 , x2 ,  y \n0.5, 1,2\n\n  -1e-3 ,2.25 , -7\n1,2,3\n")
    X, y = load_csv_samples(p)
    assert X.dtype == np.float64 and X.shape == (3, 2) and y.shape == (3,)
    np.testing.assert_array_equal(X, [[0.5, 1.0], [-1e-3, 2.25], [1.0, 2.0]])
    np.testing.assert_array_equal(y, [2.0, -7.0, 3.0])


def test_columns_in_any_order_bom_and_crlf(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_bytes("\ufeffY,X2,X1\r\n3,2,1\r\n6,5,4\r\n".encode("utf-8"))
    X, y = load_csv_samples(p)
    np.testing.assert_array_equal(X, [[1.0, 2.0], [4.0, 5.0]])
    np.testing.assert_array_equal(y, [3.0, 6.0])


def test_bad_number_reported_with_physical_line_and_column(tmp_path: Path) -> None:
    p = write(tmp_path, "x1,x2,y\n1,2,3\n\n# note\n1,2,3\n4,5,6\n7,abc,9\n")
    with pytest.raises(CsvError) as info:
        load_csv_samples(p)
    assert str(info.value) == "data.csv line 7: column x2 is not a number"
    assert isinstance(info.value, NnlabError) and not isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad,col", [("nan", "y"), ("inf", "x1"), ("-Infinity", "x2"), ("NaN", "x1")])
def test_nan_and_inf_refused_with_line_number(tmp_path: Path, bad: str, col: str) -> None:
    row = {"x1": "1", "x2": "2", "y": "3"}
    row[col] = bad
    p = write(tmp_path, f"x1,x2,y\n0,0,0\n{row['x1']},{row['x2']},{row['y']}\n")
    with pytest.raises(CsvError, match=rf"data\.csv line 3: column {col} is not a finite number"):
        load_csv_samples(p)


def test_wrong_number_of_values(tmp_path: Path) -> None:
    with pytest.raises(CsvError, match=r"data\.csv line 3: expected 3 values .* got 2"):
        load_csv_samples(write(tmp_path, "x1,x2,y\n1,2,3\n1,2\n"))
    with pytest.raises(CsvError, match=r"line 2: expected 3 values .* got 4"):
        load_csv_samples(write(tmp_path, "x1,x2,y\n1,2,3,4\n"))


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n"])
def test_empty_file_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(CsvError, match=r"data\.csv: the file is empty"):
        load_csv_samples(write(tmp_path, text))


def test_header_required_and_checked(tmp_path: Path) -> None:
    with pytest.raises(CsvError, match=r"data\.csv line 1: expected a header naming the columns x1,x2,y"):
        load_csv_samples(write(tmp_path, "1,2,3\n4,5,6\n"))
    with pytest.raises(CsvError, match="header"):
        load_csv_samples(write(tmp_path, "x,y,z\n1,2,3\n"))
    with pytest.raises(CsvError, match="header"):
        load_csv_samples(write(tmp_path, "x1,x1,y\n1,2,3\n"))
    with pytest.raises(CsvError, match=r"data\.csv: no data rows"):
        load_csv_samples(write(tmp_path, "x1,x2,y\n\n"))


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(CsvError, match=r"nope\.csv: cannot read"):
        load_csv_samples(tmp_path / "nope.csv")
    p = tmp_path / "bin.csv"
    p.write_bytes(b"x1,x2,y\n\xff\xfe\x00\n")
    with pytest.raises(CsvError, match="UTF-8"):
        load_csv_samples(p)


def test_sample_box_pads_flat_coordinates() -> None:
    X = np.array([[0.0, 2.0], [1.0, 2.0], [-3.0, 2.0]])
    assert sample_box(X) == ((-3.0, 1.5), (1.0, 2.5))


# ----- hostile input (issue 9, items 14 and 16) -----

def test_errors_never_quote_the_file_content(tmp_path: Path) -> None:
    """A scene can name any file; its error must say where and what is wrong, not show what the file holds."""
    secret = "hunter2-private-key"
    for text in (f"{secret}\n1,2,3\n", f"x1,x2,y\n1,2,3\n1,{secret},3\n", f"x1,x2,y\n{secret}\n",
                 f"x1,x2,{secret}\n1,2,3\n"):
        with pytest.raises(CsvError) as info:
            load_csv_samples(write(tmp_path, text))
        assert secret not in str(info.value) and "hunter" not in str(info.value)
        assert str(info.value).startswith("data.csv line ")


def test_device_files_are_refused_before_reading() -> None:
    with pytest.raises(CsvError, match=r"/dev/zero: not a regular file; expected a CSV file"):
        load_csv_samples("/dev/zero")  # reading it: 6 GB, then a MemoryError


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(CsvError, match="not a regular file"):
        load_csv_samples(fifo)


def test_files_above_the_size_limit_are_refused_by_their_size(tmp_path: Path) -> None:
    p = tmp_path / "big.csv"
    with open(p, "wb") as fh:  # sparse: no disk used
        fh.write(b"x1,x2,y\n")
        fh.truncate(200_000_000)
    with pytest.raises(CsvError, match=r"too large for a CSV file; the limit is 100,000,000 bytes"):
        load_csv_samples(p)


def test_rows_above_the_sample_limit_are_refused(tmp_path: Path, monkeypatch) -> None:
    import nnlab.engine.model.csvdata as C

    monkeypatch.setattr(C, "MAX_ROWS", 5)
    monkeypatch.setattr(C, "MAX_LINES", 12)
    ok = write(tmp_path, "x1,x2,y\n" + "1,2,3\n" * 5)
    assert load_csv_samples(ok)[0].shape == (5, 2)
    with pytest.raises(CsvError, match=r"data\.csv: 6 data rows; the limit is 5 samples"):
        load_csv_samples(write(tmp_path, "x1,x2,y\n" + "1,2,3\n" * 6))
    with pytest.raises(CsvError, match=r"more than 12 lines"):
        load_csv_samples(write(tmp_path, "x1,x2,y\n" + "\n" * 20 + "1,2,3\n"))


def test_the_limits_match_the_scene_sample_limit() -> None:
    import nnlab.engine.model.csvdata as C
    from nnlab.engine.model.scene import MAX_SAMPLES

    assert C.MAX_ROWS == MAX_SAMPLES and C.MAX_CSV_BYTES == 100_000_000
