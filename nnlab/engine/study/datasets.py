"""Real regression data for a study's trained networks: data sets that a package ships offline.

A network block with `targets = ["dataset:NAME"]` is trained on the data set's rows instead of a test function.
Inputs are scaled column by column into [0, 1] (min-max over the rows), so the network's box is [0,1]^n like a
random net's; targets stay in their own units.

- "diabetes": scikit-learn's bundled diabetes data (Efron, Hastie, Johnstone & Tibshirani 2004, "Least angle
  regression"): 442 patients, 10 inputs (age, sex, BMI, blood pressure, six serum measurements), the target a
  measure of disease progression one year later. It is read from the files scikit-learn installs (no download),
  it is a real regression set, and it has 10 inputs: the size of the study's 10-D networks.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from nnlab.errors import NnlabError

PREFIX = "dataset:"


def _diabetes() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_diabetes
    except ImportError:
        raise NnlabError("target dataset:diabetes needs scikit-learn (pip install scikit-learn)") from None
    d = load_diabetes(scaled=False)  # the raw measurements, read from scikit-learn's own data files
    return np.asarray(d.data, dtype=np.float64), np.asarray(d.target, dtype=np.float64)


DATASETS: dict[str, tuple[int, Callable[[], tuple[np.ndarray, np.ndarray]]]] = {"diabetes": (10, _diabetes)}


def names() -> list[str]:
    """Target names of the data sets, as a network block writes them ("dataset:diabetes")."""
    return [PREFIX + k for k in DATASETS]


def is_dataset(target: str) -> bool:
    return target.startswith(PREFIX)


def n_inputs(target: str) -> int:
    return DATASETS[target[len(PREFIX):]][0]


def load(target: str) -> tuple[np.ndarray, np.ndarray]:
    """(X scaled into [0,1]^n, y) of a data set target; a constant column maps to 0."""
    X, y = DATASETS[target[len(PREFIX):]][1]()
    lo, hi = X.min(axis=0), X.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return (X - lo) / span, y
