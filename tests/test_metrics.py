import math

import numpy as np
import pytest

from ntpipe.metrics import binary_metrics


def test_known_values():
    y = [0, 0, 1, 1, 1]
    p = [0.1, 0.6, 0.4, 0.8, 0.9]
    m = binary_metrics(y, p)
    assert m["auc"] == pytest.approx(5 / 6)
    assert m["acc"] == pytest.approx(3 / 5)
    assert m["sens"] == pytest.approx(2 / 3) and m["spec"] == pytest.approx(1 / 2)
    tp, tn, fp, fn = 2, 1, 1, 1
    mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert m["mcc"] == pytest.approx(mcc)
    assert (m["n_pos"], m["n_neg"]) == (3, 2)
    assert 0 < m["auprc"] <= 1


def test_perfect_and_threshold():
    m = binary_metrics([0, 1, 0, 1], [0.2, 0.7, 0.3, 0.9])
    assert m["auc"] == m["acc"] == m["mcc"] == m["auprc"] == 1.0
    assert binary_metrics([0, 1], [0.3, 0.4], threshold=0.35)["acc"] == 1.0


def test_single_class_is_nan_without_warnings():
    # pyproject turns warnings into errors, so this also checks that none is raised
    m = binary_metrics(np.ones(4), [0.2, 0.7, 0.6, 0.9])
    assert math.isnan(m["auc"]) and math.isnan(m["auprc"]) and math.isnan(m["spec"])
    assert m["sens"] == 0.75 and m["n_neg"] == 0
    m = binary_metrics([0, 0], [0.1, 0.2])
    assert math.isnan(m["auc"]) and m["spec"] == 1.0 and math.isnan(m["sens"])


def test_bad_input():
    with pytest.raises(ValueError, match="length"):
        binary_metrics([0, 1], [0.5])
    with pytest.raises(ValueError, match="0 or 1"):
        binary_metrics([0, 2], [0.5, 0.5])
    with pytest.raises(ValueError, match="NaN"):
        binary_metrics([0, 1], [0.5, np.nan])


def test_below_floor_and_format_auc():
    from ntpipe.metrics import below_floor, format_auc

    assert below_floor(0.61, 0.60) and below_floor(0.50, 0.60)  # within the margin of 0.02, and below
    assert not below_floor(0.63, 0.60)
    assert not below_floor(None, 0.6) and not below_floor(0.5, math.nan)  # nothing to compare
    assert format_auc(0.7664) == "0.766" and format_auc(None) == "-" and format_auc(math.nan) == "-"
