"""Tests for ntpipe.panel: the matrix read back with pysam and pandas against the bigWigs."""

import numpy as np
import pandas as pd
import pysam
import pytest

from ntpipe import panel
from ntpipe.bigwig import BigWigWriter
from ntpipe.panel import write_panel

SIZES = [("Chr1", 1050), ("Chr2", 400), ("Chr10", 230)]  # fai order; last bins 50 and 30 bp
STRIDE = 100
VARIETIES = ["IRIS_313-10003", "IRIS_313-10004", "IRIS_313-10005"]


@pytest.fixture
def bigwigs(tmp_path):
    """Three varieties' tracks (NaN = no call) and the values written, ``{chrom: varieties x bins}``."""
    rng = np.random.default_rng(0)
    values = {c: np.round(rng.random((3, -(-n // STRIDE))), 3).astype(np.float32) for c, n in SIZES}
    chr1 = values["Chr1"]
    chr1[:, 0] = 0.5  # the same everywhere: no spread
    chr1[:, 1] = [0.5, 0.55, 0.52]  # spread 0.05, below 0.1
    chr1[:, 2] = [0.1, 0.9, 0.3]  # spread 0.8
    chr1[:, 3] = [np.nan, 0.2, 0.6]  # one no-call, the others differ: NA in the matrix
    chr1[:, 4] = np.nan  # no variety calls it: never written
    chr1[:, 5] = [np.nan, 0.9, np.nan]  # one value: no spread
    values["Chr2"][1] = np.nan  # the second variety has no Chr2 entries at all
    tracks = {}
    for i, variety in enumerate(VARIETIES):
        tracks[variety] = tmp_path / "tracks" / variety / "H3K4me3.bw"
        with BigWigWriter(tracks[variety], SIZES) as bw:
            for chrom, _ in SIZES:
                called = ~np.isnan(values[chrom][i])
                if called.any():
                    bw.add_bins(chrom, values[chrom][i], called, STRIDE)
    return tracks, values


def expected_rows(values, min_spread):
    """``(chrom, start, end, values)`` of the bins to write, by pandas' own max and min."""
    rows = []
    for chrom, length in SIZES:
        frame = pd.DataFrame(values[chrom].T.astype(float), columns=VARIETIES)
        spread = frame.max(axis=1) - frame.min(axis=1)  # NaN where no variety has a value
        for b in np.flatnonzero((spread >= min_spread).to_numpy()):
            rows.append((chrom, b * STRIDE, min((b + 1) * STRIDE, length), frame.iloc[b].to_numpy()))
    return rows


def check_matrix(path, rows):
    table = pd.read_csv(path, sep="\t")
    assert list(table.columns) == ["#chr", "start", "end", "pid", "gid", "strand", *VARIETIES]
    assert list(zip(table["#chr"], table["start"], table["end"])) == [r[:3] for r in rows]
    assert table["pid"].tolist() == [f"{c}:{s + 1}-{e}" for c, s, e, _ in rows]
    assert (table["gid"] == table["pid"]).all() and (table["strand"] == "+").all()
    np.testing.assert_allclose(table[VARIETIES].to_numpy(), np.array([r[3] for r in rows]), rtol=1e-6)
    return table


def test_matrix_holds_the_bins_that_differ(bigwigs, tmp_path):
    tracks, values = bigwigs
    out = tmp_path / "panel" / "H3K4me3.bed.gz"
    rows = expected_rows(values, 0.1)
    assert write_panel(out, tracks, SIZES, STRIDE, min_spread=0.1) == len(rows)
    assert sorted(p.name for p in out.parent.iterdir()) == ["H3K4me3.bed.gz", "H3K4me3.bed.gz.tbi"]

    table = check_matrix(out, rows)
    chr1 = table[table["#chr"] == "Chr1"].set_index("start")
    assert not {0, 100, 400, 500} & set(chr1.index)  # no spread, 0.05 < 0.1, no calls, one call
    assert chr1.loc[200, VARIETIES].tolist() == pytest.approx([0.1, 0.9, 0.3])
    assert np.isnan(chr1.loc[300, VARIETIES[0]]) and chr1.loc[300, VARIETIES[1:]].tolist() == pytest.approx([0.2, 0.6])
    assert table.loc[table["#chr"] == "Chr2", VARIETIES[1]].isna().all()
    last = table[table["#chr"] == "Chr10"]
    assert last["end"].max() <= 230

    with pysam.TabixFile(str(out)) as tbx:
        assert tbx.header[0].split("\t") == ["#chr", "start", "end", "pid", "gid", "strand", *VARIETIES]
        fetched = [line.split("\t") for line in tbx.fetch("Chr1", 150, 350)]
    assert [(f[0], int(f[1]), int(f[2])) for f in fetched] == [r[:3] for r in rows if r[0] == "Chr1" and r[1] < 350 and r[2] > 150]
    assert fetched[0][6:] == ["0.1", "0.9", "0.3"] and fetched[1][6] == "NA"


def test_chunks_and_thresholds(bigwigs, tmp_path, monkeypatch):
    tracks, values = bigwigs
    whole = tmp_path / "whole.bed.gz"
    write_panel(whole, tracks, SIZES, STRIDE, min_spread=0.0)  # every bin with a value
    check_matrix(whole, expected_rows(values, 0.0))
    monkeypatch.setattr(panel, "_CHUNK_VALUES", 7)  # two bins per chunk
    chunked = tmp_path / "chunked.bed.gz"
    write_panel(chunked, tracks, SIZES, STRIDE, min_spread=0.0)
    assert pd.read_csv(chunked, sep="\t").equals(pd.read_csv(whole, sep="\t"))

    none = tmp_path / "none.bed.gz"
    assert write_panel(none, tracks, SIZES, STRIDE, min_spread=1.0) == 0
    with pysam.TabixFile(str(none)) as tbx:
        assert list(tbx.contigs) == []  # tabix knows only chromosomes with rows
    assert pd.read_csv(none, sep="\t").empty


def test_bad_input(bigwigs, tmp_path):
    tracks, _ = bigwigs
    out = tmp_path / "p.bed.gz"
    with pytest.raises(ValueError, match=r"H3K4me3.bw: 'Chr1' is 1050 bp here, 2000 bp in the reference"):
        write_panel(out, tracks, [("Chr1", 2000)], STRIDE, 0.1)
    with pytest.raises(ValueError, match="'ChrX' is absent bp here"):
        write_panel(out, tracks, SIZES + [("ChrX", 10)], STRIDE, 0.1)
    with pytest.raises(FileNotFoundError, match="missing.bw"):
        write_panel(out, {"x": tmp_path / "missing.bw"}, SIZES, STRIDE, 0.1)
    with pytest.raises(ValueError, match="min_spread must be within 0-1"):
        write_panel(out, tracks, SIZES, STRIDE, 2)
    assert not list(tmp_path.glob("p.bed.gz*"))


def test_a_damaged_bigwig_is_named(bigwigs, tmp_path):
    """A truncated track among thousands (a copy cut short, a full disk outside the workflow): the error names
    the file, not pyBigWig's bare 'error during file opening'."""
    tracks, _ = bigwigs
    damaged = tracks[VARIETIES[1]]
    damaged.write_bytes(damaged.read_bytes()[:100])
    with pytest.raises(ValueError, match=f"{VARIETIES[1]}/H3K4me3.bw: cannot open as bigWig"):
        write_panel(tmp_path / "p.bed.gz", tracks, SIZES, STRIDE, 0.1)
    assert not list(tmp_path.glob("p.bed.gz*"))
