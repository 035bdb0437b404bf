"""Binary classification metrics (scikit-learn), as plain Python floats."""

import math

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

__all__ = ["binary_metrics", "below_floor", "format_auc"]


def _number(value):
    return None if value is None or value != value else float(value)  # NaN: none


def below_floor(auc, floor, margin=0.02):
    """Whether a model's ``auc`` fails to beat a baseline's ``floor`` by ``margin``
    (False where either is missing: None or NaN)."""
    auc, floor = _number(auc), _number(floor)
    return auc is not None and floor is not None and auc < floor + margin


def format_auc(value):
    """An AUC to 3 decimals, "-" where missing (None or NaN)."""
    value = _number(value)
    return "-" if value is None else f"{value:.3f}"


def binary_metrics(y_true, prob, threshold=0.5):
    """AUC, AUPRC, accuracy, MCC, sensitivity and specificity of probabilities.

    Parameters
    ----------
    y_true : array-like of 0/1 labels
    prob : array-like of probabilities (or any scores) for label 1
    threshold : float, ``prob >= threshold`` is called positive

    Returns
    -------
    dict with ``auc``, ``auprc``, ``acc``, ``mcc``, ``sens``, ``spec`` (floats;
    ``auc``/``auprc`` are NaN when only one class is present, ``sens``/``spec``
    NaN when there are no positives/negatives) and ``n_pos``, ``n_neg`` (ints).
    """
    y = np.asarray(y_true).astype(np.int64).ravel()
    p = np.asarray(prob, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"labels and probabilities differ in length: {y.size} vs {p.size}")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError(f"labels must be 0 or 1, got {sorted(set(np.unique(y).tolist()) - {0, 1})[:5]}")
    if not np.isfinite(p).all():
        raise ValueError("probabilities contain NaN or infinite values")
    pred = (p >= threshold).astype(np.int64)
    n_pos, n_neg = int(y.sum()), int(y.size - y.sum())
    tp = int(((pred == 1) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    both = n_pos > 0 and n_neg > 0
    nan = math.nan
    return {
        "auc": float(roc_auc_score(y, p)) if both else nan,
        "auprc": float(average_precision_score(y, p)) if both else nan,
        "acc": (tp + tn) / y.size if y.size else nan,
        "mcc": _mcc(tp, tn, n_neg - tn, n_pos - tp) if y.size else nan,
        "sens": tp / n_pos if n_pos else nan,
        "spec": tn / n_neg if n_neg else nan,
        "n_pos": n_pos,
        "n_neg": n_neg,
    }


def _mcc(tp, tn, fp, fn):
    """Matthews correlation from the confusion counts; 0 when a margin is empty (as scikit-learn)."""
    denominator = math.sqrt(float(tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return (tp * tn - fp * fn) / denominator if denominator else 0.0
