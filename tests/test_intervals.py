import numpy as np

from ntpipe.intervals import covered_before, merge_intervals


def test_merge_intervals_unions_overlapping_and_touching_runs():
    starts, ends = merge_intervals([50, 10, 15, 30, 60], [60, 20, 25, 40, 70])
    assert starts.tolist() == [10, 30, 50] and ends.tolist() == [25, 40, 70]
    empty = merge_intervals([], [])
    assert empty[0].size == 0 and empty[1].size == 0


def test_covered_before_counts_bases_left_of_each_position():
    starts, ends = np.array([10, 30]), np.array([20, 35])
    x = np.array([0, 10, 15, 20, 25, 32, 35, 100])
    assert covered_before(x, starts, ends).tolist() == [0, 0, 5, 10, 10, 12, 15, 15]
    assert covered_before(x, starts[:0], ends[:0]).tolist() == [0] * 8
