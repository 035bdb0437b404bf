"""Tests for ntpipe.bigwig: header order, values, gaps, partial last bin, atomicity."""

import os

import numpy as np
import pyBigWig
import pytest

from ntpipe.bigwig import BigWigWriter, read_bins

SIZES = [("Chr1", 1050), ("Chr2", 400), ("Chr10", 230)]  # fai order, not sorted
STRIDE = 100


def open_bw(path):
    bw = pyBigWig.open(str(path))
    assert bw is not None
    return bw


def test_header_order_values_gaps_and_last_bin(tmp_path):
    path = tmp_path / "tracks" / "H3K4me3.bw"
    chr1 = np.linspace(0, 1, 11).astype(np.float32)  # 1050 bp -> 11 bins, the last 50 bp
    called1 = np.ones(11, bool)
    called1[[3, 4, 7]] = False
    chr1[[3, 4]] = np.nan  # no-call values are never looked at
    chr10 = np.array([0.25, 0.5, 0.75], np.float32)  # 230 bp -> last bin 30 bp
    with BigWigWriter(path, SIZES) as bw:
        bw.add_bins("Chr1", chr1, called1, STRIDE)
        bw.add_bins("Chr10", chr10, None, STRIDE)  # Chr2 skipped: allowed
    assert not list(tmp_path.glob("tracks/.*tmp"))

    handle = open_bw(path)
    try:
        assert list(handle.chroms().items()) == SIZES
        assert handle.header()["nLevels"] > 0
        iv1 = handle.intervals("Chr1")
        iv10 = handle.intervals("Chr10")
        assert handle.intervals("Chr2") is None
    finally:
        handle.close()

    starts = [s for s, _, _ in iv1]
    assert starts == [0, 100, 200, 500, 600, 800, 900, 1000]  # bins 3, 4, 7 absent, no NaN entries
    assert all(np.isfinite(v) for _, _, v in iv1)
    assert iv1[-1][:2] == (1000, 1050)  # last partial bin ends at the chromosome end
    assert [(s, e) for s, e, _ in iv10] == [(0, 100), (100, 200), (200, 230)]
    np.testing.assert_array_equal(np.array([v for _, _, v in iv10], np.float32), chr10)

    got = read_bins(path, "Chr1", STRIDE)
    assert got.dtype == np.float32 and got.shape == (11,)
    np.testing.assert_array_equal(got[called1], chr1[called1])
    assert np.isnan(got[~called1]).all()
    assert np.isnan(read_bins(path, "Chr2", STRIDE)).all()


def test_run_ending_before_partial_last_bin(tmp_path):
    path = tmp_path / "a.bw"
    values = np.arange(11, dtype=np.float32) / 10
    called = np.ones(11, bool)
    called[10] = False
    with BigWigWriter(path, SIZES[:1]) as bw:
        bw.add_bins("Chr1", values, called, STRIDE)
    got = read_bins(path, "Chr1", STRIDE)
    np.testing.assert_array_equal(got[:10], values[:10])
    assert np.isnan(got[10])


@pytest.mark.parametrize(
    "calls, message",
    [
        ([("Chr2", 4), ("Chr1", 11)], "header order"),
        ([("Chr1", 11), ("Chr1", 11)], "header order"),
        ([("Chr3", 4)], "not in the header"),
        ([("Chr1", 10)], "11 bins"),
    ],
)
def test_bad_calls_raise_and_leave_no_file(tmp_path, calls, message):
    path = tmp_path / "bad.bw"
    with pytest.raises(ValueError, match=message):
        with BigWigWriter(path, SIZES) as bw:
            for chrom, n in calls:
                bw.add_bins(chrom, np.zeros(n, np.float32), np.ones(n, bool), STRIDE)
    assert list(tmp_path.iterdir()) == []


def test_non_finite_called_value_raises(tmp_path):
    values = np.zeros(4, np.float32)
    values[2] = np.inf
    with pytest.raises(ValueError, match="bin 2.*not finite"):
        with BigWigWriter(tmp_path / "x.bw", SIZES) as bw:
            bw.add_bins("Chr2", values, None, STRIDE)
    assert list(tmp_path.iterdir()) == []


def test_exception_inside_block_leaves_no_file(tmp_path):
    path = tmp_path / "x.bw"
    with pytest.raises(RuntimeError, match="boom"):
        with BigWigWriter(path, SIZES) as bw:
            bw.add_bins("Chr1", np.zeros(11, np.float32), None, STRIDE)
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_next_writer_removes_what_a_killed_writer_left(tmp_path):
    # a writer killed outright leaves its temporary file (tests/test_interrupt.py kills a real one)
    killed, other_track, still_writing = (tmp_path / n for n in (".x.bw.99999.tmp", ".y.bw.99999.tmp", ".x.bw.88888.tmp"))
    for f in (killed, other_track, still_writing):
        f.write_bytes(b"partial")
    hour_ago = killed.stat().st_mtime_ns - 3600 * 10**9
    for f in (killed, other_track):
        os.utime(f, ns=(hour_ago, hour_ago))
    os.utime(still_writing, ns=(hour_ago + 2 * 3600 * 10**9,) * 2)  # written to after this writer started
    with BigWigWriter(tmp_path / "x.bw", SIZES) as bw:
        bw.add_bins("Chr2", np.full(4, 0.5, np.float32), None, STRIDE)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".x.bw.88888.tmp", ".y.bw.99999.tmp", "x.bw"]
    assert read_bins(tmp_path / "x.bw", "Chr2", STRIDE).tolist() == [0.5] * 4


def test_zoom_levels_required(tmp_path):
    with pytest.raises(ValueError, match="zoom"):
        BigWigWriter(tmp_path / "x.bw", SIZES, max_zooms=0)


def test_a_damaged_bigwig_is_named_when_read(tmp_path):
    path = tmp_path / "V1" / "H3K4me3.bw"
    with BigWigWriter(path, [("Chr1", 1000)]) as bw:
        bw.add_bins("Chr1", np.full(10, 0.5, dtype=np.float32), np.ones(10, dtype=bool), 100)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="V1/H3K4me3.bw: cannot open as bigWig"):
        read_bins(path, "Chr1", 100)
