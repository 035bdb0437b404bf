"""Tests for ntpipe.effects: each variant scored alone against the reference's track."""

import numpy as np
import pandas as pd
import pytest
import torch

from ntpipe.bigwig import BigWigWriter
from ntpipe.effects import COLUMNS, _bins_holding, single_variant_windows, variant_effects, write_effects
from ntpipe.encoding import bin_layout, called_bins, decode, pad_for_bins
from ntpipe.genome import encode_chrom, open_fasta, write_fasta
from ntpipe.infer import predict_windows
from ntpipe.variants import Variants, trim_calls, variety_windows

SIZE, STRIDE = 100, 10  # left = 45: bin i's window is [10 i - 45, 10 i + 55)
SIZES = {"Chr1": 500, "Chr2": 300}


def write_track(path, values):
    """A bigWig of per-bin values (NaN = no call) for every chromosome of SIZES."""
    with BigWigWriter(path, SIZES) as writer:
        for chrom, v in values.items():
            v = np.asarray(v, dtype=np.float32)
            writer.add_bins(chrom, np.nan_to_num(v), ~np.isnan(v), STRIDE)
    return str(path)


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


class GuanineCount(torch.nn.Module):
    """A model whose logit counts the G of a window (first half weighted 3x): a variant moves it by a known amount."""

    def forward(self, tokens, lengths=None):
        g = (tokens == 2).float()
        half = tokens.size(1) // 2
        return 0.2 * (3 * g[:, :half].sum(1) + g[:, half:].sum(1) - tokens.size(1) / 2)  # about 0 at 25% G


def predictor(model, calls=None):
    def predict(padded, starts):
        if calls is not None:
            calls.append(len(starts))
        return predict_windows([model], padded, starts, SIZE)
    return predict


@pytest.fixture
def panel(tmp_path):
    """A reference (Chr1 with an N stretch), one variety's variants, and both tracks of GuanineCount."""
    rng = np.random.default_rng(1)
    seqs = {c: "".join(rng.choice(list("ACGT"), n)) for c, n in SIZES.items()}
    seqs["Chr1"] = seqs["Chr1"][:420] + "N" * 80  # bins 41..49 hold at least half N: no call
    fasta = open_fasta(write_fasta(tmp_path / "ref.fa", seqs))
    s1 = seqs["Chr1"]
    variants = {  # 200, 205: one window; 300 an insertion of Gs, 340 a deletion; 470 in the N stretch
        "Chr1": Variants([200, 205, 300, 340, 470], [s1[200], s1[205:207], s1[300], s1[340:344], "N"],
                         ["G" if s1[200] != "G" else "C", s1[205], s1[300] + "GGG", s1[340], "G"]),
        "Chr2": Variants([100], [seqs["Chr2"][100]], ["G" if seqs["Chr2"][100] != "G" else "A"]),
    }
    model = GuanineCount()
    ref, var = {}, {}
    for chrom in SIZES:
        tokens = encode_chrom(fasta, chrom)
        called = called_bins(tokens, SIZE, STRIDE, 0.5)
        for track, windows in ((ref, (pad_for_bins(tokens, SIZE, STRIDE), np.arange(len(called)) * STRIDE)),
                               (var, variety_windows(tokens, variants[chrom], SIZE, STRIDE))):
            track[chrom] = np.where(called, predict_windows([model], *windows, SIZE)[0], np.nan)
    ref_tracks = {"H3K4me3": write_track(tmp_path / "ref.bw", ref)}
    var_tracks = {"H3K4me3": write_track(tmp_path / "var.bw", var)}
    return fasta, variants, model, ref_tracks, var_tracks, ref, var


@pytest.mark.parametrize("size,stride", [(100, 10), (101, 7), (40, 40), (60, 25)])
def test_single_variant_windows_are_the_variety_windows_of_that_variant_alone(size, stride):
    rng = np.random.default_rng(size)
    ref = rng.integers(0, 4, 300).astype(np.uint8)
    alleles = lambda n: "".join(rng.choice(list("ACGT"), n))  # noqa: E731
    pos = np.array([0, 3, 40, 41, 150, 200, 290, 297])
    rlen = np.array([1, 5, 1, 1, 12, 1, 3, 3])
    alt = [alleles(1), alleles(1), alleles(25), alleles(1), alleles(1), alleles(4), alleles(1), alleles(2)]
    # a deletion anchored at its end, and a SNP padded on both sides (trimmed to its base)
    seq = decode(ref)
    d = next(p for p in range(90, 110) if seq[p] != seq[p + 11])  # its first base not its last: no left anchor
    pos, rlen = np.r_[pos[:4], d, 120, pos[4:]], np.r_[rlen[:4], 12, 4, rlen[4:]]
    swap = {"A": "C", "C": "G", "G": "T", "T": "A"}
    alt = alt[:4] + [seq[d + 11], seq[120] + swap[seq[121]] + seq[122:124]] + alt[4:]
    variants = trim_calls(Variants(pos, [decode(ref[p : p + r]) for p, r in zip(pos, rlen)], alt))
    pos, rlen, alt = variants.pos, variants.ref_len, variants.alt
    padded, starts, owner, bins = single_variant_windows(ref, variants, np.arange(len(pos)), size, stride)
    first, last = _bins_holding(pos, rlen, len(ref), size, stride)
    assert owner.tolist() == [i for i in range(len(pos)) for _ in range(first[i], last[i] + 1)]
    for i in range(len(pos)):
        alone, alone_starts = variety_windows(ref, Variants(pos[i : i + 1], variants.ref[i : i + 1], alt[i : i + 1]), size, stride)
        for j in np.flatnonzero(owner == i):
            assert np.array_equal(padded[starts[j] : starts[j] + size], alone[alone_starts[bins[j]] : alone_starts[bins[j]] + size])


def test_effects_score_each_variant_alone(panel):
    fasta, variants, model, ref_tracks, var_tracks, ref, var = panel
    table = variant_effects(variants, fasta, predictor(model), ref_tracks, var_tracks, SIZE, STRIDE, min_delta=0.0)
    assert list(table.columns) == COLUMNS
    # the variant at 471 has only no-call bins: no row; every other variant has one
    assert sorted(zip(table.chrom, table.pos)) == [("Chr1", 201), ("Chr1", 206), ("Chr1", 301), ("Chr1", 341), ("Chr2", 101)]
    assert np.all(np.diff(table["delta"].abs().to_numpy()) <= 0)
    for row in table.itertuples():
        chrom, i = row.chrom, int(np.flatnonzero(variants[row.chrom].pos == row.pos - 1)[0])
        v = variants[chrom]
        tokens = encode_chrom(fasta, chrom)
        alone = variety_windows(tokens, Variants(v.pos[i : i + 1], v.ref[i : i + 1], v.alt[i : i + 1]), SIZE, STRIDE)
        first, last = _bins_holding(v.pos[i : i + 1], v.ref_len[i : i + 1], len(tokens), SIZE, STRIDE)
        b = np.arange(first[0], last[0] + 1)
        deltas = predict_windows([model], alone[0], alone[1][b], SIZE)[0] - ref[chrom][b]
        best = int(b[np.nanargmax(np.abs(deltas))])
        assert row.delta == pytest.approx(np.nanmax(np.abs(deltas)) * np.sign(row.delta), abs=1e-5)
        assert row.ref_prob == pytest.approx(ref[chrom][best], abs=1e-6)
        assert row.var_prob - row.ref_prob == pytest.approx(row.delta, abs=1e-6)
        assert row.haplotype_delta == pytest.approx(var[chrom][best] - ref[chrom][best], abs=1e-6)
    # 201 and 206 share windows: each scored alone, named as the other's neighbour
    first = table[table.pos == 201].iloc[0]
    assert first.n_variants == 2 and first.others == f"206:{variants['Chr1'].ref[1]}>{variants['Chr1'].alt[1]}"
    assert table[table.pos == 101].iloc[0].others == ""
    assert (table["gene"] == "").all() and table["gene_distance"].isna().all()


def test_effects_only_score_variants_whose_windows_move(panel, tmp_path):
    fasta, variants, model, ref_tracks, _, ref, var = panel
    moved = {c: v.copy() for c, v in ref.items()}
    moved["Chr2"][12] += 0.3  # only Chr2:101's windows move in this variety's track
    var_tracks = {"H3K4me3": write_track(tmp_path / "moved.bw", moved)}
    calls = []
    table = variant_effects(variants, fasta, predictor(model, calls), ref_tracks, var_tracks, SIZE, STRIDE, min_delta=0.01)
    assert calls == [SIZE // STRIDE]  # the windows of the one variant that moved
    assert table[["chrom", "pos"]].values.tolist() == [["Chr2", 101]]
    assert variant_effects(variants, fasta, predictor(model), ref_tracks, var_tracks, SIZE, STRIDE, min_delta=0.9).empty

    out = write_effects(table, tmp_path / "effects.tsv")
    back = pd.read_csv(out, sep="\t", keep_default_na=False)
    assert list(back.columns) == COLUMNS and back["delta"].tolist() == [round(table.iloc[0].delta, 4)]


def test_planted_variants_scored_against_the_others_seen_and_private():
    """The demo's check (ntpipe.steps.planted_auc): AUC of |delta| for planted variants, split by
    whether training cultivars carry them too."""
    from ntpipe.steps import planted_auc

    positions = [50, 150, 250, 350, 450]
    table = pd.DataFrame({"chrom": "Chr1", "pos": [p + 1 for p in positions], "mark": "H3K4me3",
                          "delta": [0.6, -0.1, -0.3, 0.05, 0.02]})
    # planted: 50 (seen in 3 cultivars, the largest move), 250 (private), 350 (private); others: 150, 450
    events = pd.DataFrame({"variety": "V1", "chrom": "Chr1", "ref_pos": [50, 250, 350], "mark": "H3K4me3",
                           "effect": "lost", "cultivars": [3, 0, 0]})
    row = planted_auc(events, {"V1": table}, ["H3K4me3"]).iloc[0]
    assert (row.planted, row.other, row.seen, row.private) == (3, 2, 1, 2)
    # |delta|: planted 0.6, 0.3, 0.05 against others 0.1, 0.02 -> 5 of 6 pairs ranked right
    assert row.auc_abs_delta == pytest.approx(5 / 6)
    assert row.auc_seen == pytest.approx(1.0)  # 0.6 above both others
    assert row.auc_private == pytest.approx(3 / 4)  # 0.3 above both, 0.05 above 0.02 only


def test_planted_auc_with_no_variety_of_the_demo_is_an_empty_table_not_a_crash():
    """A sheet on the demo's reference whose varieties are none of the simulator's (a panel of one's own over
    the demo genome): evaluate_demo leaves them all out, and the planted-variant table is then empty, with its
    columns, instead of failing the run on pd.concat([])."""
    from ntpipe.steps import planted_auc

    events = pd.DataFrame({"variety": "V1", "chrom": "Chr1", "ref_pos": [50], "mark": "H3K4me3",
                           "effect": "lost", "cultivars": [3]})
    table = planted_auc(events, {}, ["H3K4me3"])
    assert table.empty
    assert {"mark", "planted", "other", "auc_abs_delta", "seen", "private"} <= set(table.columns)


def test_demo_evaluation_of_no_demo_variety_is_a_header_not_an_empty_file(tmp_path):
    """evaluate_demo on a sheet of none of the simulator's varieties writes demo_evaluation.tsv with its columns."""
    from ntpipe.steps import evaluate_demo

    out = tmp_path / "demo_evaluation.tsv"
    events = tmp_path / "events.tsv"
    events.write_text("variety\tchrom\tref_pos\tmark\teffect\tref_start\tref_end\tcultivars\n"
                      "IRIS_313-10003\tChr1\t50\tH3K4me3\tlost\t0\t100\t2\n")
    evaluate_demo([{"variety": "MINE_1", "genome": "mine.fa"}], ["H3K4me3"], tmp_path / "truth", events,
                  tmp_path / "tracks", 100, out)
    table = pd.read_csv(out, sep="\t")
    assert table.empty and list(table.columns[:4]) == ["variety", "mark", "coordinates", "auc"]
    events_table = pd.read_csv(tmp_path / "demo_events.tsv", sep="\t")
    assert events_table.empty and list(events_table.columns[:3]) == ["variety", "mark", "chrom"]


def test_marks_of_different_windows_are_scored_each_on_its_own_and_merged_in_order(panel, tmp_path):
    """window.mark_sizes: each mark's variants scored on its own window size, one table in variant_effects' order."""
    from ntpipe.effects import effects_by_window

    fasta, variants, model, ref_tracks, var_tracks, ref, var = panel
    wide = 140  # a second mark read through 140 bp windows around the same bins
    tracks = {}
    for name in ("ref", "var"):
        values = {}
        for chrom in SIZES:
            tokens = encode_chrom(fasta, chrom)
            called = called_bins(tokens, wide, STRIDE, 0.5)
            windows = ((pad_for_bins(tokens, wide, STRIDE), np.arange(len(called)) * STRIDE) if name == "ref"
                       else variety_windows(tokens, variants[chrom], wide, STRIDE))
            values[chrom] = np.where(called, predict_windows([model], *windows, wide)[0], np.nan)
        tracks[name] = {"H3K27me3": write_track(tmp_path / f"{name}_wide.bw", values)}
    wide_predict = lambda padded, starts: predict_windows([model], padded, starts, wide)  # noqa: E731
    narrow = variant_effects(variants, fasta, predictor(model), ref_tracks, var_tracks, SIZE, STRIDE)
    broad = variant_effects(variants, fasta, wide_predict, tracks["ref"], tracks["var"], wide, STRIDE)
    predictors = {SIZE: (["H3K4me3"], predictor(model)), wide: (["H3K27me3"], wide_predict)}
    merged = effects_by_window(variants, fasta, predictors, {**ref_tracks, **tracks["ref"]}, {**var_tracks, **tracks["var"]},
                               STRIDE)
    assert list(merged.columns) == COLUMNS and len(merged) == len(narrow) + len(broad)
    assert sorted(merged["mark"].unique()) == ["H3K27me3", "H3K4me3"]
    assert np.all(np.diff(merged["delta"].abs().to_numpy()) <= 0)
    for mark, table in (("H3K4me3", narrow), ("H3K27me3", broad)):
        pd.testing.assert_frame_equal(merged[merged.mark == mark].reset_index(drop=True), table)
    assert not narrow.set_index(["chrom", "pos"])["delta"].equals(broad.set_index(["chrom", "pos"])["delta"])
    alone = effects_by_window(variants, fasta, {SIZE: (["H3K4me3"], predictor(model))}, ref_tracks, var_tracks, STRIDE)
    pd.testing.assert_frame_equal(alone, narrow)


def test_single_variant_predictor_groups_the_models_by_their_window(tmp_path):
    from conftest import tiny_model

    from ntpipe.steps import single_variant_predictor

    narrow, narrow_model = tiny_model(tmp_path, mark="H3K4me3", size=200, stride=50)
    wide, wide_model = tiny_model(tmp_path, mark="H3K27me3", seed=1, size=400, stride=50)
    narrow2, narrow2_model = tiny_model(tmp_path, mark="H3K9ac", seed=2, size=200, stride=50)
    padded = np.random.default_rng(3).integers(0, 4, 2000).astype(np.uint8)
    starts = np.arange(0, 1500, 50)
    sizes = {"H3K4me3": 200, "H3K27me3": 400, "H3K9ac": 200}
    with single_variant_predictor([wide, narrow2, narrow], list(sizes), sizes, {}) as predictors:
        assert {w: marks for w, (marks, _) in predictors.items()} == {200: ["H3K4me3", "H3K9ac"], 400: ["H3K27me3"]}
        np.testing.assert_array_equal(predictors[200][1](padded, starts),
                                      predict_windows([narrow_model, narrow2_model], padded, starts, 200))
        np.testing.assert_array_equal(predictors[400][1](padded, starts), predict_windows([wide_model], padded, starts, 400))
    with pytest.raises(ValueError, match="trained on 400 bp windows but 200 bp were asked for"):
        with single_variant_predictor([wide, narrow], ["H3K4me3", "H3K27me3"], 200, {}):
            pass
