import json

import numpy as np
import pytest
import torch

from ntpipe.data import EpochSampler, WindowDataset, weighted_sample
from ntpipe.encoding import pad_for_bins, sliding_windows
from ntpipe.genome import encode_chrom, open_fasta, write_fasta
from ntpipe.labels import LabelConfig
from ntpipe.trainset import (
    EXAMPLE_DTYPE, build_labels, encode_genome, eval_subset, gc_match_weights, load_labels, split_by_chrom,
)

SIZE, STRIDE = 300, 100


def _random(rng, n):
    return "".join(rng.choice(list("ACGT"), n))


def _panel(tmp_path, negative_margin=0):
    """Two cultivars: identical Chr1 but for one SNP at 2050; B has an N gap on Chr2; only A has Chr3."""
    rng = np.random.default_rng(0)
    chr1, chr2 = _random(rng, 3000), _random(rng, 2000)
    snp = "A" if chr1[2050] != "A" else "C"
    genomes = {
        "A": {"Chr1": chr1, "Chr2": chr2, "Chr3": _random(rng, 1500)},
        "B": {"Chr1": chr1[:2050] + snp + chr1[2051:], "Chr2": "N" * 1000 + chr2[1000:]},
    }
    peaks = {"A": "Chr1\t1000\t1500\nChr2\t200\t400\nChr3\t500\t800\n", "B": "Chr1\t1000\t1300\nChr2\t200\t400\n"}
    rows, encoded = [], {}
    for name, seqs in genomes.items():
        fa = write_fasta(tmp_path / f"{name}.fa", seqs)
        (tmp_path / f"{name}.bed").write_text(peaks[name])
        encoded[name] = encode_genome(fa, tmp_path / "enc" / f"{name}.npy", SIZE, STRIDE)
        rows.append({"cultivar": name, "genome": str(fa), "peaks": str(tmp_path / f"{name}.bed")})
    out = tmp_path / "labels" / "K4.npz"
    summary = build_labels(rows, encoded, LabelConfig(size=SIZE, stride=STRIDE, negative_margin=negative_margin), out)
    return load_labels(out), summary, rows


def _example(data, chrom, bin_, cultivar=None):
    ex = data["examples"]
    hit = (data["chroms"][ex["chrom"]] == chrom) & (ex["bin"] == bin_)
    if cultivar is not None:
        hit &= data["cultivars"][ex["cultivar"]] == cultivar
    assert hit.sum() == 1, (chrom, bin_, hit.sum())
    return ex[hit][0]


def test_windows_cut_on_the_fly_equal_the_genome_windows(tmp_path):
    data, _, rows = _panel(tmp_path)
    ds = WindowDataset(data["genomes"], data["examples"], data["offsets"], data["size"], data["stride"])
    tokens, lengths, targets = ds[np.arange(len(ds))]
    assert tokens.shape == (len(ds), SIZE) and (lengths == SIZE).all()
    fasta = {r["cultivar"]: open_fasta(r["genome"]) for r in rows}
    for i, ex in enumerate(data["examples"]):
        cultivar, chrom = data["cultivars"][ex["cultivar"]], data["chroms"][ex["chrom"]]
        direct = sliding_windows(pad_for_bins(encode_chrom(fasta[cultivar], chrom), SIZE, STRIDE), SIZE, STRIDE)[ex["bin"]]
        assert np.array_equal(tokens[i].numpy(), direct), (cultivar, chrom, ex["bin"])
    assert np.allclose(targets.numpy(), data["examples"]["target"])
    # tokens() keeps the order it is asked in
    assert np.array_equal(ds.tokens(np.array([5, 0, 3])), tokens.numpy()[[5, 0, 3]])
    assert not list(tmp_path.glob("**/*.tmp*"))


def test_peaks_in_another_naming_give_the_same_examples_with_aliases(tmp_path):
    data, summary, rows = _panel(tmp_path)
    bed = tmp_path / "B.bed"
    bed.write_text(bed.read_text().replace("Chr1\t", "chr01\t").replace("Chr2\t", "2\t"))
    encoded = {r["cultivar"]: tmp_path / "enc" / f"{r['cultivar']}.npy" for r in rows}
    out = tmp_path / "aliased.npz"
    with pytest.raises(ValueError, match=r"B.bed, line 1, column 1: chromosome 'chr01' is not in the genome .*B.fa"):
        build_labels(rows, encoded, LabelConfig(size=SIZE, stride=STRIDE), out)
    assert build_labels(rows, encoded, LabelConfig(size=SIZE, stride=STRIDE), out, chrom_aliases=True) == summary
    aliased = load_labels(out)
    assert np.array_equal(aliased["examples"], data["examples"])
    assert aliased["chroms"].tolist() == data["chroms"].tolist() == ["Chr1", "Chr2", "Chr3"]


def test_cultivar_genomes_of_two_namings_merge_with_aliases(tmp_path):
    data, summary, rows = _panel(tmp_path)
    fasta = open_fasta(rows[1]["genome"])
    renamed = {"chr01": str(fasta["Chr1"]), "2": str(fasta["Chr2"])}  # B's assembly in another naming, peaks too
    rows[1] = {**rows[1], "genome": str(write_fasta(tmp_path / "B_other.fa", renamed))}
    encoded = {"A": tmp_path / "enc" / "A.npy", "B": encode_genome(rows[1]["genome"], tmp_path / "enc" / "B_other.npy", SIZE, STRIDE)}
    bed = tmp_path / "B.bed"
    bed.write_text(bed.read_text().replace("Chr1\t", "chr01\t").replace("Chr2\t", "2\t"))
    out = tmp_path / "aliased.npz"
    assert build_labels(rows, encoded, LabelConfig(size=SIZE, stride=STRIDE), out, chrom_aliases=True) == summary
    aliased = load_labels(out)
    assert np.array_equal(aliased["examples"], data["examples"]) and aliased["chroms"].tolist() == ["Chr1", "Chr2", "Chr3"]
    ds = WindowDataset(aliased["genomes"], aliased["examples"], aliased["offsets"], SIZE, STRIDE)
    before = WindowDataset(data["genomes"], data["examples"], data["offsets"], SIZE, STRIDE)
    assert np.array_equal(ds.tokens(np.arange(len(ds))), before.tokens(np.arange(len(before))))
    # without aliases each naming is a chromosome of its own: nothing merges across them
    unmerged = build_labels(rows, encoded, LabelConfig(size=SIZE, stride=STRIDE), tmp_path / "own.npz")
    assert load_labels(tmp_path / "own.npz")["chroms"].tolist() == ["Chr1", "Chr2", "Chr3", "chr01", "2"]
    assert unmerged["examples"] > summary["examples"]
    both = write_fasta(tmp_path / "both.fa", {"Chr1": renamed["chr01"], "chr01": renamed["chr01"]})
    rows[1] = {**rows[1], "genome": str(both)}
    encoded["B"] = encode_genome(both, tmp_path / "enc" / "both.npy", SIZE, STRIDE)
    with pytest.raises(ValueError, match=r"both.fa: chromosomes 'Chr1' and 'chr01' are one chromosome under chrom_aliases"):
        build_labels(rows, encoded, LabelConfig(size=SIZE, stride=STRIDE), out, chrom_aliases=True)


def test_identical_windows_merge_with_soft_labels(tmp_path):
    data, summary, _ = _panel(tmp_path)
    # Chr1 bin 12: window [1100, 1400) is the same in A and B; A's peak covers its bin, B's ([1000, 1300)) too
    assert _example(data, "Chr1", 12)["target"] == 1.0 and _example(data, "Chr1", 12)["copies"] == 2
    # bins 13 and 14: A's peak covers them, B's peak ends at 1300, beside them: a soft label of 1 in 2
    for b in (13, 14):
        assert _example(data, "Chr1", b)["copies"] == 2 and _example(data, "Chr1", b)["target"] == 0.5
    # with the margin of "no peak touches the window", B's window of bin 13 ([1200, 1500)) is ambiguous: one copy
    (tmp_path / "window").mkdir()
    window = _panel(tmp_path / "window", negative_margin=(SIZE - STRIDE) // 2)[0]
    assert _example(window, "Chr1", 13)["copies"] == 1 and _example(window, "Chr1", 13)["target"] == 1.0
    assert _example(window, "Chr1", 14)["copies"] == 2 and _example(window, "Chr1", 14)["target"] == 0.5
    # bin 24: negative in both, identical -> one example of two copies
    neg = _example(data, "Chr1", 25)
    assert neg["target"] == 0.0 and neg["copies"] == 2
    # windows holding B's SNP at 2050 (bins 19..21) differ: one example per cultivar
    for b in (19, 20, 21):
        assert {data["cultivars"][_example(data, "Chr1", b, c)["cultivar"]] for c in "AB"} == {"A", "B"}
    # the soft label: a window with the mark in one copy of two
    ex = data["examples"]
    assert set(np.round(ex["target"], 3)) <= {0.0, 0.5, 1.0}
    # Chr2's N gap in B: B's windows mostly N are dropped, A's kept
    chr2 = ex[data["chroms"][ex["chrom"]] == "Chr2"]
    assert (chr2["bin"] <= 6).any() and not ((data["cultivars"][chr2["cultivar"]] == "B") & (chr2["bin"] <= 6)).any()
    # Chr3 only in A: its windows come from A
    assert (data["cultivars"][ex[data["chroms"][ex["chrom"]] == "Chr3"]["cultivar"]] == "A").all()
    assert summary["examples"] == len(ex) < summary["copies"]


def test_differential_windows_are_a_locus_marked_in_some_cultivars_only(tmp_path):
    # C is A with one SNP at 1450; A has a peak over [1000, 1500), C not: the SNP "destroys" the mark
    rng = np.random.default_rng(1)
    chr1 = _random(rng, 3000)
    snp = "A" if chr1[1450] != "A" else "C"
    rows, encoded = [], {}
    for name, seq, bed in (("A", chr1, "Chr1\t1000\t1500\n"), ("C", chr1[:1450] + snp + chr1[1451:], "Chr1\t2500\t2600\n")):
        fa = write_fasta(tmp_path / f"{name}.fa", {"Chr1": seq})
        (tmp_path / f"{name}.bed").write_text(bed)
        encoded[name] = encode_genome(fa, tmp_path / f"{name}.npy", SIZE, STRIDE)
        rows.append({"cultivar": name, "genome": str(fa), "peaks": str(tmp_path / f"{name}.bed")})
    summary = build_labels(rows, encoded, LabelConfig(size=SIZE, stride=STRIDE), tmp_path / "K4.npz")
    data = load_labels(tmp_path / "K4.npz")
    ex = data["examples"]
    # bin 13 ([1300, 1400)): A marked, C not, windows differ by the SNP, the bin's own bases do not
    assert {data["cultivars"][e["cultivar"]]: e["target"] for e in ex[ex["bin"] == 13]} == {"A": 1.0, "C": 0.0}
    assert sorted(zip(ex["bin"][ex["differential"] == 1].tolist(), ex["cultivar"][ex["differential"] == 1].tolist())) == [(13, 0), (13, 1)]
    assert summary["differential"] == 2
    # bin 14 holds the SNP in its own bases (not the same locus by its bin), bin 12's windows are
    # identical (merged, a soft label), bin 15 is unmarked in both: none is differential
    assert _example(data, "Chr1", 12)["target"] == 0.5


def test_differential_skips_repeats():
    from ntpipe.trainset import _differential

    keys = np.array([[1, 1], [1, 1], [2, 2], [2, 2], [2, 2], [3, 3]], dtype=np.uint64)
    positive = np.array([True, False, True, False, False, True])
    # key 1: a locus marked in one cultivar, not the other; key 2 in 3 examples > 2 cultivars: a repeat
    assert _differential(keys, positive, max_group=2).tolist() == [1, 1, 0, 0, 0, 0]
    assert _differential(keys, positive, max_group=3).tolist() == [1, 1, 1, 1, 1, 0]


def _mapped_and_own(tmp_path, ref_row, own_row):
    """Labels of one cultivar from its reference-mapped row (``vcf``) and from its own-assembly row."""
    from test_liftover import mapped_cultivar

    reference, vcf, consensus = mapped_cultivar(tmp_path)
    encoded = {"CVX": encode_genome(consensus, tmp_path / "CVX.npy", SIZE, STRIDE)}
    cfg = LabelConfig(size=SIZE, stride=STRIDE)
    rows = {"mapped": {"cultivar": "CVX", "genome": str(consensus), "vcf": vcf, "sample": "CVX", **ref_row},
            "own": {"cultivar": "CVX", "genome": str(consensus), **own_row}}
    for name, row in rows.items():
        build_labels([row], encoded, cfg, tmp_path / f"{name}.npz", reference=reference)
    return load_labels(tmp_path / "mapped.npz"), load_labels(tmp_path / "own.npz")


def _positive_bins(data, chrom):
    ex = data["examples"]
    return sorted(ex["bin"][(data["chroms"][ex["chrom"]] == chrom) & (ex["target"] == 1)].tolist())


def test_peaks_on_the_reference_label_the_consensus_like_its_own_peaks(tmp_path):
    # the cultivar's peaks: Chr1 [1200, 1700) on its own sequence is [1140, 1640) on the reference
    # (60 bp inserted before it); Chr2 [1000, 1200) follows a 200 bp deletion: [1200, 1400) there
    (tmp_path / "ref.bed").write_text("Chr1\t1140\t1640\nChr2\t300\t600\nChr2\t1200\t1400\n")
    (tmp_path / "own.bed").write_text("Chr1\t1200\t1700\nChr2\t300\t600\nChr2\t1000\t1200\n")
    mapped, own = _mapped_and_own(tmp_path, {"peaks": str(tmp_path / "ref.bed")}, {"peaks": str(tmp_path / "own.bed")})
    assert np.array_equal(mapped["examples"], own["examples"])
    assert _positive_bins(mapped, "Chr1") == [12, 13, 14, 15, 16]  # not the reference's bins 11..15
    assert _positive_bins(mapped, "Chr2") == [3, 4, 5, 10, 11]


def test_reads_on_the_reference_label_the_consensus_like_reads_on_it(tmp_path):
    from test_labels import _bam

    rng = np.random.default_rng(1)
    chip = np.concatenate([rng.integers(1140, 1440, 200), rng.integers(60, 2940, 60)])
    chip = chip[(chip <= 2500) | (chip > 2513)]  # none in the deleted bases
    control = rng.integers(60, 2940, 260)
    control = control[(control <= 2500) | (control > 2513)]

    def own(p):  # the consensus position of reference position p (60 bp inserted after 499, 13 deleted after 2500)
        return np.where(p < 500, p, np.where(p <= 2500, p + 60, p + 47))

    ref_sizes, own_sizes = {"Chr1": 3000, "Chr2": 1500}, {"Chr1": 3047, "Chr2": 1300}
    files = {}
    for name, sizes, shift in (("ref", ref_sizes, lambda p: p), ("own", own_sizes, own)):
        for kind, starts in (("chip", chip), ("input", control)):
            files[name, kind] = str(_bam(tmp_path / f"{name}.{kind}.bam", sizes, [("Chr1", int(p)) for p in shift(starts)]))
    mapped, own = _mapped_and_own(tmp_path, {"bam": files["ref", "chip"], "control": files["ref", "input"]},
                                  {"bam": files["own", "chip"], "control": files["own", "input"]})
    assert np.array_equal(mapped["examples"], own["examples"])
    assert {12, 13, 14} <= set(_positive_bins(mapped, "Chr1"))


def test_split_never_mixes_chromosomes():
    ex = np.zeros(8, EXAMPLE_DTYPE)
    ex["chrom"] = [0, 0, 1, 1, 2, 2, 3, 3]
    ex["target"] = [0, 1] * 4
    data = {"examples": ex, "chroms": np.array(["Chr1", "Chr2", "Chr10", "Chr3"])}
    parts = split_by_chrom(data, ["Chr2"], ["Chr10"])
    assert parts["valid"]["chrom"].tolist() == [1, 1] and parts["test"]["chrom"].tolist() == [2, 2]
    assert parts["train"]["chrom"].tolist() == [0, 0, 3, 3]
    with pytest.raises(ValueError, match=r"the test split has no windows.*Chr9"):
        split_by_chrom(data, ["Chr2"], ["Chr9"])
    with pytest.raises(ValueError, match="both validation and test"):
        split_by_chrom(data, ["Chr2"], ["Chr2"])
    # cultivar genomes of two namings: with aliases, one name holds out the chromosome of both
    mixed = {"examples": np.concatenate([ex, ex]), "chroms": np.array(["Chr1", "Chr2", "Chr10", "Chr3", "chr01", "chr02", "chr10", "chr03"])}
    mixed["examples"]["chrom"][8:] += 4
    parts = split_by_chrom(mixed, ["Chr2"], ["chr10"], aliases=True)
    assert parts["valid"]["chrom"].tolist() == [1, 1, 5, 5] and parts["test"]["chrom"].tolist() == [2, 2, 6, 6]
    assert split_by_chrom(mixed, ["Chr2"], ["Chr10"])["valid"]["chrom"].tolist() == [1, 1]  # without: the name alone


def test_epoch_sampler_draws_fresh_negatives():
    targets = np.array([1.0] * 10 + [0.5] * 5 + [0.0] * 200)
    sampler = EpochSampler(targets, negative_ratio=2.0, generator=torch.Generator().manual_seed(0))
    epochs = [np.array(list(sampler)) for _ in range(4)]
    for e in epochs:
        assert len(e) == len(sampler) == 45 and len(set(e)) == 45
        assert set(np.flatnonzero(targets > 0)) <= set(e)  # every example with the mark, every epoch
    negatives = [set(e[targets[e] == 0]) for e in epochs]
    assert negatives[0] != negatives[1]  # drawn afresh
    assert len(set().union(*negatives)) > 90  # over a run, many more than one epoch's 30
    # the same generator seed gives the same epochs (resumable)
    again = EpochSampler(targets, 2.0, torch.Generator().manual_seed(0))
    assert np.array_equal(np.array(list(again)), epochs[0])
    # epoch_size caps an epoch and keeps the ratio
    capped = np.array(list(EpochSampler(targets, 2.0, torch.Generator().manual_seed(0), epoch_size=12)))
    assert len(capped) == 12 and (targets[capped] > 0).sum() == 4


def test_weighted_sample_draws_as_numpy_without_replacement():
    w = np.array([20.0, 10, 5, 0] + [1] * 25 + [0])
    cdf = np.cumsum(w) / w.sum()
    rng_ours, rng_numpy = np.random.default_rng(0), np.random.default_rng(1)
    ours, theirs = np.zeros(len(w)), np.zeros(len(w))
    for _ in range(4000):
        drawn = weighted_sample(rng_ours, cdf, 8)
        assert len(set(drawn)) == 8
        ours[drawn] += 1
        theirs[rng_numpy.choice(len(w), 8, replace=False, p=w / w.sum())] += 1
    # each index's chance to be in the sample: the same law (a uniform or with-replacement draw is 0.2-0.5 off)
    np.testing.assert_allclose(ours / 4000, theirs / 4000, atol=0.04)
    assert ours[3] == ours[-1] == 0 and ours[0] / 4000 > 0.95
    # a sample that holds nearly all the weight still ends, with every index drawable once
    heavy = np.cumsum([1e9, 1e9, 0, 1, 1, 1]) / (2e9 + 3)
    for size in (4, 5):
        drawn = weighted_sample(np.random.default_rng(2), heavy, size)
        assert len(set(drawn)) == size and 2 not in drawn and {0, 1} <= set(drawn)
    # more negatives asked for than have weight: the sampler draws those that have it
    targets = np.array([1.0] * 4 + [0.0] * 10)
    sampler = EpochSampler(targets, 2.0, torch.Generator().manual_seed(0), weights=np.r_[np.ones(4), np.ones(5), np.zeros(5)])
    assert len(sampler) == 9 and set(list(sampler)) == set(range(9))
    for bad, what in ((np.r_[np.ones(4), np.zeros(10)], "a sum of 0"), (np.r_[np.ones(13), np.nan], "1 not finite"),
                      (np.r_[np.ones(13), -1.0], "1 below 0")):
        with pytest.raises(ValueError, match=rf"sampling weights must be finite, at least 0 and not all 0; got .*{what}"):
            EpochSampler(targets, 2.0, torch.Generator().manual_seed(0), weights=bad)


def test_gc_match_weights_draw_negatives_like_the_positives():
    ex = np.zeros(1050, EXAMPLE_DTYPE)
    ex["target"][:50] = 1
    ex["gc"][:50] = 70
    ex["gc"][50:] = np.linspace(20, 80, 1000).round()
    w = gc_match_weights(ex)
    idx = np.array(list(EpochSampler(ex["target"], 2.0, torch.Generator().manual_seed(0), weights=w)))
    drawn = ex["gc"][idx][ex["target"][idx] == 0]
    assert abs(drawn.mean() - 70) < 6 and ex["gc"][50:].mean() < 55


def test_eval_subset_is_fixed_and_keeps_the_marked():
    ex = np.zeros(1000, EXAMPLE_DTYPE)
    ex["target"][:30] = 1
    sub = eval_subset(ex, 100, seed=3)
    assert len(sub) == 100 and (sub["target"] > 0).sum() == 30
    assert np.array_equal(sub, eval_subset(ex, 100, seed=3))
    assert len(eval_subset(ex, None)) == 1000


def test_eval_subset_counts_marked_as_the_metrics_do():
    """A soft target below 0.5 scores as unmarked, so it is drawn with the unmarked, not kept with the marked."""
    ex = np.zeros(1000, EXAMPLE_DTYPE)
    ex["target"][:30] = 1
    ex["target"][30:330] = 0.1  # marked in one cultivar of ten: a negative for the metrics
    sub = eval_subset(ex, 100, seed=3)
    assert len(sub) == 100 and (sub["target"] >= 0.5).sum() == 30
    assert (sub["target"] == 0.1).sum() < 70  # drawn among 970 unmarked, not all kept (300 > 70)


def test_train_mark_holdout_metrics_and_final_fit(tmp_path, test_panel):
    """metrics.json comes from the hold-out model; model.pt is the final fit on every chromosome."""
    import pandas as pd

    from ntpipe.data import make_loader
    from ntpipe.model import load_model
    from ntpipe.steps import train_mark
    from ntpipe.train import evaluate

    sheet = pd.read_csv(test_panel / "training.tsv", sep="\t").fillna("")
    rows = sheet[(sheet.mark == "H3K27me3") & (sheet.peaks != "") & (sheet.genome != "")].head(4).to_dict("records")
    encoded = {r["cultivar"]: encode_genome(r["genome"], tmp_path / "enc" / f"{r['cultivar']}.npy", 200, 50) for r in rows}
    labels = tmp_path / "labels.npz"
    build_labels(rows, encoded, LabelConfig(size=200, stride=50), labels)
    data = load_labels(labels)
    split = {"valid_chroms": ["Chr9"], "test_chroms": ["Chr5"]}  # Chr5: windows marked in some cultivars only
    model = {"preset": "small", "overrides": {"d_model": 16, "n_heads": 2, "d_ff": 32, "n_layers": 1, "pool": 2}}
    training = {"epochs": 2, "epoch_size": 64, "eval_size": 80, "batch_size": 32, "min_final_epochs": 3, "device": "cpu"}
    out = tmp_path / "model"
    metrics = train_mark(labels, out, "H3K27me3", {"size": 200, "stride": 50}, split, model, training)

    assert json.loads((out / "metrics.json").read_text()) == metrics
    holdout, _, holdout_meta = load_model(out / "holdout" / "model.pt", "cpu")
    final, _, final_meta = load_model(out / "model.pt", "cpu")
    assert holdout_meta["trained_on"] == "hold-out split" and final_meta["trained_on"] == "all chromosomes"
    assert final_meta["holdout_metrics"]["auc"] == metrics["auc"]
    # the final fit ran max(best epoch, min_final_epochs) epochs, no early stopping
    assert len((out / "final" / "history.tsv").read_text().splitlines()) == 1 + max(metrics["best_epoch"], 3)
    # metrics.json is the hold-out model on the test chromosome, not the final model
    from ntpipe.trainset import eval_subset
    from ntpipe.config import train_config

    test = eval_subset(split_by_chrom(data, split["valid_chroms"], split["test_chroms"])["test"], 80, train_config("small").seed + 1)
    loader = make_loader(WindowDataset(data["genomes"], test, data["offsets"], 200, 50), 64)
    assert evaluate(holdout, loader, torch.device("cpu"))[0]["auc"] == pytest.approx(metrics["auc"])
    # and its AUC on every differential window of the test chromosome
    all_test = split_by_chrom(data, split["valid_chroms"], split["test_chroms"])["test"]
    diff = all_test[all_test["differential"] > 0]
    assert metrics["n_differential"] == len(diff) > 0
    ds = WindowDataset(data["genomes"], diff, data["offsets"], 200, 50)
    assert 0 < (ds.labels >= 0.5).sum() < len(ds)
    assert evaluate(holdout, make_loader(ds, 64), torch.device("cpu"))[0]["auc"] == pytest.approx(metrics["differential_auc"])
    final_state, holdout_state = final.state_dict(), holdout.state_dict()
    assert any(not torch.equal(final_state[k], holdout_state[k]) for k in final_state)  # two different models
    assert json.loads((out / "baseline.json").read_text())["auc"] is not None

    # without the final fit, model.pt is the hold-out model
    training["final_fit"] = False
    train_mark(labels, tmp_path / "nofinal", "H3K27me3", {"size": 200, "stride": 50}, split, model, training)
    assert load_model(tmp_path / "nofinal" / "model.pt", "cpu")[2]["trained_on"] == "hold-out split"
    assert not (tmp_path / "nofinal" / "final").exists()


def test_hard_negatives_draw_what_the_word_term_calls_marked(tmp_path, monkeypatch):
    from ntpipe import train as train_module
    from ntpipe.config import train_config
    from ntpipe.data import make_loader
    from ntpipe.model import KmerFrequencies
    from ntpipe.train import _train_sampler

    data, _, _ = _panel(tmp_path)
    ds = WindowDataset(data["genomes"], data["examples"], data["offsets"], SIZE, STRIDE)
    cpu = torch.device("cpu")
    words = KmerFrequencies([2, 3])
    torch.nn.init.normal_(words.linear.weight, std=0.3)
    neg = np.flatnonzero(ds.labels <= 0)
    with torch.no_grad():
        logits = np.concatenate([words(t, n).numpy() for t, n, _ in make_loader(ds, 64)])
    prob = 1 / (1 + np.exp(-logits[neg]))
    assert prob.std() > 0.05  # the term tells the negatives apart
    sampler = _train_sampler(ds, train_config("small", hard_negatives=0.75), torch.Generator().manual_seed(0), words, cpu)
    expected = 0.25 / len(neg) + 0.75 * prob / prob.sum()  # a share drawn alike, the rest by the words' probability
    np.testing.assert_allclose(sampler.p, expected / expected.sum(), rtol=1e-5)
    # without it, or without a word term, every negative alike: the sampler of before, draw for draw
    plain = EpochSampler(ds.labels, 1.0, torch.Generator().manual_seed(0))
    for cfg, term in ((train_config("small"), words), (train_config("small", hard_negatives=0.75), None)):
        same = _train_sampler(ds, cfg, torch.Generator().manual_seed(0), term, cpu)
        assert same.p is None and list(same) == list(plain)
        plain = EpochSampler(ds.labels, 1.0, torch.Generator().manual_seed(0))
    # on a genome of more negatives than the pool, the word term scores a seeded draw of them (10 epochs' worth
    # here); the others keep the first share alone, and every negative can still be drawn
    monkeypatch.setattr(train_module, "HARD_NEGATIVE_POOL", 5)
    cfg = train_config("small", hard_negatives=0.75, epoch_size=4)  # 2 negatives per epoch: a pool of 20
    assert len(neg) > 20
    capped = _train_sampler(ds, cfg, torch.Generator().manual_seed(0), words, cpu)
    weights = np.zeros(len(ds))
    weights[neg] = capped.p
    scored = np.flatnonzero(weights > weights[neg].min() * (1 + 1e-9))
    assert len(scored) == 20 and set(scored) <= set(neg)
    p_scored = 1 / (1 + np.exp(-logits[scored]))
    expected = np.full(len(ds), 0.25 / len(neg))
    expected[scored] += 0.75 * p_scored / p_scored.sum()
    np.testing.assert_allclose(capped.p, expected[neg] / expected[neg].sum(), rtol=1e-5)
    again = _train_sampler(ds, cfg, torch.Generator().manual_seed(5), words, cpu)  # the pool does not follow the epochs' draws
    np.testing.assert_array_equal(again.p, capped.p)
    drawn = {int(i) for _ in range(200) for i in capped if ds.labels[i] <= 0}
    assert drawn - set(scored)
    # a setting that needs the word term, checked before any training
    from ntpipe.steps import model_settings

    with pytest.raises(ValueError, match=r"TrainConfig.hard_negatives \(0.5\) needs ModelConfig.kmer_words"):
        model_settings({"preset": "small"}, {"hard_negatives": 0.5})
    assert model_settings({"overrides": {"kmer_words": [6, 8]}}, {"hard_negatives": 0.5})[2].hard_negatives == 0.5
