"""Half-open interval arithmetic on numpy arrays (one chromosome at a time)."""

import numpy as np

__all__ = ["merge_intervals", "covered_before"]


def merge_intervals(starts, ends):
    """Union of half-open intervals: sorted, non-overlapping ``(starts, ends)``."""
    starts, ends = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
    if starts.size == 0:
        return starts, ends
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    run_end = np.maximum.accumulate(e)
    new = np.concatenate([[True], s[1:] > run_end[:-1]])
    idx = np.flatnonzero(new)
    return s[idx], np.maximum.reduceat(e, idx)


def covered_before(x, starts, ends):
    """Bases covered by merged intervals ``(starts, ends)`` before each position in ``x``."""
    x = np.asarray(x, np.int64)
    if len(starts) == 0:
        return np.zeros_like(x)
    cum = np.concatenate([[0], np.cumsum(ends - starts)])
    i = np.searchsorted(starts, x, side="right")  # intervals starting at or before x
    last = np.maximum(i - 1, 0)
    partial = np.clip(x - starts[last], 0, ends[last] - starts[last])
    return np.where(i > 0, cum[last] + partial, 0)
