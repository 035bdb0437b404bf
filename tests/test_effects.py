"""Tests for ntpipe.effects: variant effects read off the reference's and a variety's tracks."""

import numpy as np
import pandas as pd
import pytest

from ntpipe.bigwig import BigWigWriter
from ntpipe.effects import COLUMNS, _bins_holding, variant_effects, write_effects
from ntpipe.encoding import bin_layout
from ntpipe.variants import Variants

SIZE, STRIDE = 100, 10  # left = 45: bin i's window is [10 i - 45, 10 i + 55)
SIZES = {"Chr1": 500, "Chr2": 300}


def write_track(path, values):
    """A bigWig of per-bin values (NaN = no call) for every chromosome of SIZES."""
    with BigWigWriter(path, SIZES) as writer:
        for chrom, v in values.items():
            v = np.asarray(v, dtype=np.float32)
            writer.add_bins(chrom, np.nan_to_num(v), ~np.isnan(v), STRIDE)
    return str(path)


def flat(chrom, value=0.2):
    return np.full(-(-SIZES[chrom] // STRIDE), value, dtype=np.float32)


@pytest.mark.parametrize("length,size,stride", [(500, 100, 10), (503, 101, 7), (60, 40, 40), (1000, 1000, 100)])
def test_bins_holding_are_the_windows_that_overlap_the_ref(length, size, stride):
    rng = np.random.default_rng(0)
    pos = np.sort(rng.integers(0, length, 40))
    rlen = rng.integers(1, 5, 40)
    rlen = np.minimum(rlen, length - pos)
    first, last = _bins_holding(pos, rlen, length, size, stride)
    count, left, _ = bin_layout(length, size, stride)
    lo = np.arange(count) * stride - left
    for p, r, f, l in zip(pos, rlen, first, last):
        hold = np.flatnonzero((lo < p + r) & (lo + size > p))
        assert (f, l) == (hold[0], hold[-1])


@pytest.fixture
def tracks(tmp_path):
    ref1, var1 = flat("Chr1"), flat("Chr1")
    var1[20], var1[16] = 0.9, 0.0  # bins 15..24 hold pos 200: strongest at bin 20 (+0.7)
    ref1[43:], var1[43:] = np.nan, np.nan  # pos 480: bins 43..49, all no-call
    ref2, var2 = flat("Chr2", 0.8), flat("Chr2", 0.8)
    var2[10] = 0.5  # pos 100 on Chr2: bins 5..14
    ref = {"H3K4me3": write_track(tmp_path / "ref.bw", {"Chr1": ref1, "Chr2": ref2})}
    var = {"H3K4me3": write_track(tmp_path / "var.bw", {"Chr1": var1, "Chr2": var2})}
    variants = {
        "Chr1": Variants([200, 205, 400, 480], ["A", "CG", "T", "G"], ["G", "C", "TAA", "C"]),
        "Chr2": Variants([100], ["A"], ["T"]),
    }
    return ref, var, variants


def test_effects_strongest_bin_neighbours_and_order(tracks, tmp_path):
    ref, var, variants = tracks
    table = variant_effects(variants, ref, var, SIZE, STRIDE, SIZES, min_delta=0.05)
    assert list(table.columns) == COLUMNS
    # pos 200 and 205 share the window of bin 20 (+0.7); Chr2:101 falls by 0.3; pos 400 does not change
    assert table[["chrom", "pos", "ref", "alt"]].values.tolist() == [
        ["Chr1", 201, "A", "G"], ["Chr1", 206, "CG", "C"], ["Chr2", 101, "A", "T"]]
    first = table.iloc[0]
    assert first["delta"] == pytest.approx(0.7) and first["ref_prob"] == pytest.approx(0.2)
    assert first["var_prob"] == pytest.approx(0.9)
    assert first["n_variants"] == 2 and first["others"] == "206:CG>C"
    assert table.iloc[2]["delta"] == pytest.approx(-0.3) and table.iloc[2]["n_variants"] == 1
    assert table.iloc[2]["others"] == ""
    assert (table["gene"] == "").all() and table["gene_distance"].isna().all()

    out = write_effects(table, tmp_path / "effects.tsv")
    back = pd.read_csv(out, sep="\t", keep_default_na=False)
    assert list(back.columns) == COLUMNS and len(back) == 3
    assert back["delta"].tolist() == [0.7, 0.7, -0.3]


def test_effects_min_delta_zero_lists_every_called_variant(tracks):
    ref, var, variants = tracks
    table = variant_effects(variants, ref, var, SIZE, STRIDE, SIZES, min_delta=0.0)
    # pos 481 has only no-call bins: no row; pos 401 is listed with delta 0
    assert sorted(table["pos"]) == [101, 201, 206, 401]
    assert table.loc[table["pos"] == 401, "delta"].item() == 0
    assert variant_effects(variants, ref, var, SIZE, STRIDE, SIZES, min_delta=0.8).empty


def test_planted_variants_scored_against_the_others_seen_and_private(tmp_path):
    """The demo's check (ntpipe.steps._score_effects): AUC of |delta| for planted variants, split by
    whether training cultivars carry them too."""
    from test_variants import write_vcf

    from ntpipe.genome import write_fasta
    from ntpipe.steps import _score_effects

    rng = np.random.default_rng(0)
    seqs = {c: "".join(rng.choice(list("ACGT"), n)) for c, n in SIZES.items()}
    reference = write_fasta(tmp_path / "ref.fa", seqs)
    positions = [50, 150, 250, 350, 450]  # Chr1; windows of 100 at stride 10: no two share a bin
    alt = lambda b: "A" if b != "A" else "C"  # noqa: E731
    vcf = write_vcf(tmp_path, [("Chr1", p + 1, seqs["Chr1"][p], alt(seqs["Chr1"][p]), "1/1") for p in positions],
                    samples=("V1",), contigs=tuple(SIZES))
    ref_track, var_track = flat("Chr1"), flat("Chr1")
    for p, change in zip(positions, [0.6, 0.1, 0.3, 0.05, 0.02]):
        var_track[p // STRIDE] += change  # the bin centred on each variant moves by `change`
    (tmp_path / "ref").mkdir()
    (tmp_path / "tracks" / "V1").mkdir(parents=True)
    write_track(tmp_path / "ref" / "H3K4me3.bw", {"Chr1": ref_track, "Chr2": flat("Chr2")})
    write_track(tmp_path / "tracks" / "V1" / "H3K4me3.bw", {"Chr1": var_track, "Chr2": flat("Chr2")})
    # planted: 50 (seen in 3 cultivars, the largest move), 250 (private), 350 (private); others: 150, 450
    events = pd.DataFrame({"variety": "V1", "chrom": "Chr1", "ref_pos": [50, 250, 350], "mark": "H3K4me3",
                           "effect": "lost", "cultivars": [3, 0, 0]})
    out = tmp_path / "demo_effects.tsv"
    _score_effects(events, [{"variety": "V1", "vcf": vcf, "sample": "V1"}], ["H3K4me3"], tmp_path / "tracks", STRIDE, out,
                   reference=reference, reference_tracks=tmp_path / "ref", size=SIZE)
    row = pd.read_csv(out, sep="\t").iloc[0]
    assert (row.planted, row.other, row.seen, row.private) == (3, 2, 1, 2)
    # |delta|: planted 0.6, 0.3, 0.05 against others 0.1, 0.02 -> 5 of 6 pairs ranked right
    assert row.auc_abs_delta == pytest.approx(5 / 6, abs=1e-4)  # the table keeps 4 decimals
    assert row.auc_seen == pytest.approx(1.0)  # 0.6 above both others
    assert row.auc_private == pytest.approx(3 / 4, abs=1e-4)  # 0.3 above both, 0.05 above 0.02 only
