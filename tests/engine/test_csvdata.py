"""CSV training data: good files read back exactly, bad rows reported by file, line and column."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnlab.engine.csvdata import CsvError, load_csv_samples, sample_box


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
    assert str(info.value) == "data.csv line 7: 'abc' is not a number in column x2"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad,col", [("nan", "y"), ("inf", "x1"), ("-Infinity", "x2"), ("NaN", "x1")])
def test_nan_and_inf_refused_with_line_number(tmp_path: Path, bad: str, col: str) -> None:
    row = {"x1": "1", "x2": "2", "y": "3"}
    row[col] = bad
    p = write(tmp_path, f"x1,x2,y\n0,0,0\n{row['x1']},{row['x2']},{row['y']}\n")
    with pytest.raises(CsvError, match=rf"data\.csv line 3: '{bad}' in column {col} is not a finite number"):
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
    with pytest.raises(CsvError, match=r"data\.csv line 1: expected a header .*'1,2,3'"):
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
