"""The window cache: same tracks as without it, shared windows predicted once,
model-scoped entries, and shards that are safe with concurrent jobs."""

import logging
import multiprocessing
import signal

import numpy as np
import pytest
from conftest import tiny_model

from ntpipe.cli import main
from ntpipe.bigwig import read_bins
from ntpipe.cache import ENTRY_DTYPE, WindowCache, _unique_rows, compact, model_id, window_keys
from ntpipe.encoding import encode, pad_for_bins
from ntpipe.genome import chrom_sizes, write_fasta
from ntpipe.infer import predict_windows
from ntpipe.predict import predict_genome

SIZE, STRIDE = 200, 50
ATOL = 1e-6  # probabilities: float32 rounding (the batches differ with and without the cache)


def _model(tmp_path, mark="H3K4me3", seed=0):
    return tiny_model(tmp_path, mark=mark, seed=seed, size=SIZE, stride=STRIDE)


def _genomes(tmp_path):
    """A genome and a second one sharing most of its sequence (a few SNPs, an
    indel, one replaced stretch) plus a repeat within it."""
    rng = np.random.default_rng(1)
    bases = np.array(list("ACGT"))
    chr1 = "".join(rng.choice(bases, 6000))
    chr2 = "".join(rng.choice(bases, 1500)) + "N" * 400 + "".join(rng.choice(bases, 1500))
    chr2 = chr2 + chr2[:700]  # a repeat: identical windows within one genome
    a = {"Chr1": chr1, "Chr2": chr2}
    c1 = list(chr1)
    for p in (500, 2600, 4100):
        c1[p] = "A" if c1[p] != "A" else "C"
    c1 = "".join(c1[:3000]) + "GATTACA" + "".join(c1[3000:])
    c1 = c1[:5000] + "".join(rng.choice(bases, 300)) + c1[5300:]
    b = {"Chr1": c1, "Chr2": chr2}
    return write_fasta(tmp_path / "a.fa", a), write_fasta(tmp_path / "b.fa", b)


def _tracks(out, genome, mark="H3K4me3"):
    return {c: read_bins(out / f"{mark}.bw", c, STRIDE) for c, _ in chrom_sizes(genome)}


def _assert_same_tracks(x, y):
    assert x.keys() == y.keys()
    for chrom in x:
        np.testing.assert_array_equal(np.isnan(x[chrom]), np.isnan(y[chrom]))
        np.testing.assert_allclose(x[chrom], y[chrom], rtol=0, atol=ATOL, equal_nan=True)


def _genome_stats(caplog):
    stats = [r.cache_stats for r in caplog.records if hasattr(r, "cache_stats") and "model_fraction" in r.cache_stats]
    assert stats, "no genome summary logged"
    return stats[-1]


def test_window_keys_identify_bases():
    padded = pad_for_bins(encode("ACGTACGTAC" * 40 + "GGGG" + "ACGTACGTAC" * 40), SIZE, STRIDE)
    starts = np.arange(0, len(padded) - SIZE + 1, 10)
    keys = window_keys(padded, starts, SIZE)
    assert keys.shape == (len(starts), 2) and keys.dtype == np.uint64
    same = np.array([[(padded[a : a + SIZE] == padded[b : b + SIZE]).all() for b in starts] for a in starts])
    np.testing.assert_array_equal((keys[:, None, :] == keys[None, :, :]).all(-1), same)
    first, inverse = _unique_rows(keys)
    np.testing.assert_array_equal(keys[first][inverse], keys)
    assert len(first) == len({tuple(k) for k in keys.tolist()})
    with pytest.raises(ValueError, match="window starts"):
        window_keys(padded, [len(padded) - SIZE + 1], SIZE)


def test_model_id_scope(tmp_path):
    _, m0 = _model(tmp_path, seed=0)
    _, m1 = _model(tmp_path, seed=1)
    _, m0_again = _model(tmp_path, seed=0)
    assert model_id(m0) == model_id(m0_again)
    assert len({model_id(m0), model_id(m1), model_id(m0, reverse_complement=True), model_id(m0, device="cuda")}) == 4


def test_an_upgrade_of_the_inference_code_starts_the_cache_afresh(tmp_path, monkeypatch):
    import ntpipe.cache

    _, model = _model(tmp_path)
    before = model_id(model)
    monkeypatch.setattr(ntpipe.cache, "source_digest", lambda *modules: "an upgraded ntpipe/model.py")
    assert model_id(model) != before


def test_predict_equals_engine_and_reuses(tmp_path, caplog):
    _, model = _model(tmp_path)
    padded = pad_for_bins(encode("".join(np.random.default_rng(3).choice(list("ACGT"), 3000)) * 2), SIZE, STRIDE)
    starts = np.arange(0, len(padded) - SIZE + 1, STRIDE)
    direct = predict_windows([model], padded, starts, SIZE, batch_size=16)
    with caplog.at_level(logging.INFO, logger="ntpipe.cache"):
        with WindowCache(tmp_path / "cache", [model], ["m"]) as cache:
            cached = cache.predict(padded, starts, SIZE, 16)
            # the genome is its first half twice: the second copy's windows are repeats
            assert cache.stats["model_windows"] < 0.6 * len(starts)
            again = cache.predict(padded, starts, SIZE, 16)  # all hits now
    np.testing.assert_allclose(cached, direct, rtol=0, atol=ATOL)
    np.testing.assert_array_equal(again, cached)
    calls = [r.cache_stats for r in caplog.records if hasattr(r, "cache_stats") and "model_fraction" not in r.cache_stats]
    assert calls[1]["hits"] == len(starts) and calls[1]["model_windows"] == 0
    with WindowCache(tmp_path / "cache", [model], ["m"]) as cache:  # a new job reads the shard
        np.testing.assert_array_equal(cache.predict(padded, starts, SIZE, 16), cached)
        assert cache.stats["model_windows"] == 0


def test_tracks_with_cache_equal_without_and_second_genome_hits(tmp_path, caplog):
    path, _ = _model(tmp_path)
    a, b = _genomes(tmp_path)
    cache = tmp_path / "cache"
    for name, genome in (("a", a), ("b", b)):
        predict_genome([path], genome, tmp_path / f"{name}-plain", device="cpu", batch_size=32)
        with caplog.at_level(logging.INFO, logger="ntpipe.cache"):
            predict_genome([path], genome, tmp_path / f"{name}-cached", device="cpu", batch_size=32, cache=cache)
        _assert_same_tracks(_tracks(tmp_path / f"{name}-cached", genome), _tracks(tmp_path / f"{name}-plain", genome))
        stats = _genome_stats(caplog)
        if name == "a":
            assert stats["model_fraction"] < 1  # the repeat in Chr2
        else:
            assert stats["model_fraction"] < 0.5, stats  # b shares most windows with a
    assert len(list(cache.glob("*/*.npy"))) == 2


def test_different_model_does_not_reuse(tmp_path, caplog):
    p0, _ = _model(tmp_path, seed=0)
    p1, _ = _model(tmp_path, seed=1)
    a, _ = _genomes(tmp_path)
    cache = tmp_path / "cache"
    predict_genome([p0], a, tmp_path / "m0", device="cpu", cache=cache)
    with caplog.at_level(logging.INFO, logger="ntpipe.cache"):
        predict_genome([p1], a, tmp_path / "m1", device="cpu", cache=cache)
    assert _genome_stats(caplog)["hits"] == 0
    predict_genome([p1], a, tmp_path / "m1-plain", device="cpu")
    _assert_same_tracks(_tracks(tmp_path / "m1", a), _tracks(tmp_path / "m1-plain", a))
    assert len([d for d in cache.iterdir() if d.is_dir()]) == 2
    with caplog.at_level(logging.INFO, logger="ntpipe.cache"):  # reverse complement: its own scope too
        predict_genome([p0], a, tmp_path / "m0-rc", device="cpu", cache=cache, reverse_complement=True)
    assert _genome_stats(caplog)["hits"] == 0


def test_leftover_tmp_and_bad_shards_are_ignored(tmp_path, caplog):
    path, _ = _model(tmp_path)
    a, _ = _genomes(tmp_path)
    cache = tmp_path / "cache"
    predict_genome([path], a, tmp_path / "first", device="cpu", cache=cache)
    (shard,) = cache.glob("*/*.npy")
    # a killed job's half-written shard, with the wrong values, and a foreign .npy
    bad = np.load(shard)
    bad["p"] = 7.0
    with open(shard.parent / "host.1.dead.npy.tmp", "wb") as fh:
        np.save(fh, bad)
    np.save(shard.parent / "garbage.npy", np.arange(5))
    with caplog.at_level(logging.INFO, logger="ntpipe.cache"):
        predict_genome([path], a, tmp_path / "second", device="cpu", cache=cache)
    assert _genome_stats(caplog)["model_windows"] == 0  # everything from the complete shard
    assert any("skipping" in r.getMessage() for r in caplog.records)
    _assert_same_tracks(_tracks(tmp_path / "second", a), _tracks(tmp_path / "first", a))


def test_compact_merges_shards(tmp_path, caplog):
    path, model = _model(tmp_path)
    a, b = _genomes(tmp_path)
    cache = tmp_path / "cache"
    predict_genome([path], a, tmp_path / "a", device="cpu", cache=cache)
    predict_genome([path], b, tmp_path / "b", device="cpu", cache=cache)
    shards = list(cache.glob("*/*.npy"))
    n = sum(len(np.load(s)) for s in shards)
    (merged,) = compact(cache)
    assert list(cache.glob("*/*.npy")) == [merged]
    entries = np.load(merged)
    assert entries.dtype == ENTRY_DTYPE and entries.dtype.itemsize == 20 and len(entries) == n
    with caplog.at_level(logging.INFO, logger="ntpipe.cache"):
        predict_genome([path], b, tmp_path / "b2", device="cpu", cache=cache)
    assert _genome_stats(caplog)["model_windows"] == 0
    _assert_same_tracks(_tracks(tmp_path / "b2", b), _tracks(tmp_path / "b", b))


def test_compact_cache_command(tmp_path):
    path, _ = _model(tmp_path)
    cache = tmp_path / "cache"
    for name, genome in zip("ab", _genomes(tmp_path)):
        predict_genome([path], genome, tmp_path / name, device="cpu", cache=cache)
    assert len(list(cache.glob("*/*.npy"))) == 2
    before = signal.getsignal(signal.SIGTERM)
    assert main(["compact-cache", str(tmp_path / "no-cache")]) == 2  # named in the error, not a traceback
    assert main(["compact-cache", str(cache)]) == 0
    assert len(list(cache.glob("*/*.npy"))) == 1
    assert signal.getsignal(signal.SIGTERM) is before  # the command's SIGTERM handler is gone with it


def test_concurrent_jobs_share_one_cache_dir(tmp_path, caplog):
    path, _ = _model(tmp_path)
    a, b = _genomes(tmp_path)
    cache = tmp_path / "cache"
    ctx = multiprocessing.get_context("spawn")
    jobs = [
        ctx.Process(target=predict_genome, args=([str(path)], str(g), str(tmp_path / f"job{i}")),
                    kwargs={"device": "cpu", "cache": str(cache)})
        for i, g in enumerate((a, b))
    ]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(timeout=300)
        assert job.exitcode == 0
    shards = list(cache.glob("*/*.npy"))
    assert len(shards) == 2 and not list(cache.glob("*/*.tmp"))
    for i, g in enumerate((a, b)):
        with caplog.at_level(logging.INFO, logger="ntpipe.cache"):
            predict_genome([path], g, tmp_path / f"later{i}", device="cpu", cache=cache)
        assert _genome_stats(caplog)["model_windows"] == 0  # both shards are seen
        _assert_same_tracks(_tracks(tmp_path / f"later{i}", g), _tracks(tmp_path / f"job{i}", g))


def test_vcf_varieties_with_and_without_cache(tmp_path, caplog):
    simulate = pytest.importorskip("ntpipe.simulate")
    out = simulate.simulate(tmp_path / "sim", seed=1, scale="test")
    rows = [line.split("\t") for line in (out / "varieties.tsv").read_text().splitlines()]
    rows = [dict(zip(rows[0], r)) for r in rows[1:]]
    vcf_rows = [r for r in rows if r.get("vcf")]
    assert len(vcf_rows) >= 2
    reference = out / "reference.fa"
    path, _ = _model(tmp_path)
    cache = tmp_path / "cache"
    fractions = []
    for row in vcf_rows:
        name, vcf, sample = row["variety"], row["vcf"], row.get("sample") or None
        predict_genome([path], reference, tmp_path / f"{name}-plain", vcf=vcf, sample=sample, device="cpu")
        with caplog.at_level(logging.INFO, logger="ntpipe.cache"):
            predict_genome([path], reference, tmp_path / f"{name}-cached", vcf=vcf, sample=sample, device="cpu",
                           cache=cache)
        fractions.append(_genome_stats(caplog)["model_fraction"])
        _assert_same_tracks(_tracks(tmp_path / f"{name}-cached", reference), _tracks(tmp_path / f"{name}-plain", reference))
    assert max(fractions[1:]) < 0.5, fractions  # later varieties share most windows with the first
