"""The inference engine and whole-genome prediction to bigWig."""

import numpy as np
import pyBigWig
import pytest
import torch
from conftest import tiny_model

from ntpipe.encoding import called_bins, encode, pad_for_bins, sliding_windows
from ntpipe.genome import write_fasta
from ntpipe.infer import Throughput, predict_windows
from ntpipe.predict import predict_genome

SIZE, STRIDE = 200, 50


def _model(tmp_path, mark="H3K4me3", seed=0):
    return tiny_model(tmp_path, mark=mark, seed=seed, size=SIZE, stride=STRIDE)


def _genome(tmp_path):
    rng = np.random.default_rng(1)
    seqs = {
        "Chr1": "".join(rng.choice(list("ACGT"), 1030)),
        "Chr2": "".join(rng.choice(list("ACGT"), 400)) + "N" * 500 + "".join(rng.choice(list("ACGT"), 400)),
        "Chr10": "".join(rng.choice(list("acgt"), 120)),  # shorter than a window, soft-masked
    }
    return write_fasta(tmp_path / "g.fa", seqs), seqs


def test_engine_equals_the_model_called_directly(tmp_path):
    _, model = _model(tmp_path)
    padded = pad_for_bins(encode("".join(np.random.default_rng(2).choice(list("ACGTN"), 2000))), SIZE, STRIDE)
    starts = np.arange(0, len(padded) - SIZE + 1, STRIDE)
    probs = predict_windows([model, model], padded, starts, SIZE, batch_size=7)
    windows = torch.from_numpy(sliding_windows(padded, SIZE, STRIDE)[: len(starts)].astype(np.int64))
    with torch.inference_mode():
        for lo in range(0, len(starts), 7):  # the same batches
            direct = torch.sigmoid(model(windows[lo : lo + 7])).numpy()
            np.testing.assert_array_equal(probs[0, lo : lo + 7], direct)
    np.testing.assert_array_equal(probs[0], probs[1])


def test_cpu_workers_give_the_same_values_and_restore_threads(tmp_path):
    _, model = _model(tmp_path)
    padded = pad_for_bins(encode("".join(np.random.default_rng(3).choice(list("ACGT"), 3000))), SIZE, STRIDE)
    starts = np.arange(0, len(padded) - SIZE + 1, STRIDE)
    one = predict_windows([model], padded, starts, SIZE, batch_size=5, workers=1)
    bar = Throughput(len(starts), "workers")
    torch.set_num_threads(2)
    try:
        three = predict_windows([model], padded, starts, SIZE, batch_size=5, workers=3, progress=bar)
        assert torch.get_num_threads() == 2 and bar.n == len(starts)
    finally:
        torch.set_num_threads(1)  # the tests' setting (conftest)
    np.testing.assert_allclose(one, three, rtol=0, atol=1e-6)  # float32 rounding: kernels may vectorise differently


def test_throughput_counts_without_a_terminal(caplog):
    bar = Throughput(10, "demo windows")  # pytest captures output: tqdm draws no bar
    bar.update(4)
    bar.update(6)
    with caplog.at_level("INFO", logger="ntpipe.infer"):
        bar.close()
    assert "demo windows: 10 windows in" in caplog.text


def test_throughput_of_a_stopped_run_says_it_stopped(caplog):
    """A job stopped midway (SIGTERM, an error) closes its bar too: its log line must not read as a
    finished pass over the genome."""
    bar = Throughput(10, "predict reference.fa + P009")
    bar.update(4)
    with caplog.at_level("INFO", logger="ntpipe.infer"):
        bar.close()
    assert "predict reference.fa + P009: stopped after 4 of 10 windows" in caplog.text


def test_reverse_complement_averaging(tmp_path):
    _, model = _model(tmp_path)
    padded = pad_for_bins(encode("ACGTTGCAAC" * 50), SIZE, STRIDE)
    starts = np.arange(5) * STRIDE
    both = predict_windows([model], padded, starts, SIZE, reverse_complement=True)
    fwd = predict_windows([model], padded, starts, SIZE)
    rc_padded = padded[::-1].copy()
    rc_padded = np.where(rc_padded < 4, 3 - rc_padded, 4).astype(np.uint8)
    rc_starts = len(padded) - SIZE - starts
    rev = predict_windows([model], rc_padded, rc_starts, SIZE)
    np.testing.assert_allclose(both, (fwd + rev) / 2, rtol=1e-6)


def test_predict_genome_writes_engine_values(tmp_path):
    fa, seqs = _genome(tmp_path)
    path, model = _model(tmp_path)
    path2, model2 = _model(tmp_path, mark="H3K27me3", seed=1)
    out = predict_genome([path, path2], fa, tmp_path / "tracks", batch_size=16)
    assert sorted(out) == ["H3K27me3", "H3K4me3"]
    chrom1 = pad_for_bins(encode(seqs["Chr1"]), SIZE, STRIDE)
    expected = predict_windows([model], chrom1, np.arange(21) * STRIDE, SIZE)[0]
    with pyBigWig.open(str(out["H3K4me3"])) as bw:
        assert list(bw.chroms()) == ["Chr1", "Chr2", "Chr10"]  # .fai order
        iv = bw.intervals("Chr1")
        assert [s for s, _, _ in iv] == list(range(0, 1030, STRIDE))
        assert iv[-1][1] == 1030  # the last bin stops at the chromosome end
        np.testing.assert_allclose([v for _, _, v in iv], expected, rtol=1e-6)
        # Chr2's gap: bins whose window is mostly N have no value at all
        starts = [s for s, _, _ in bw.intervals("Chr2")]
        assert 600 not in starts and 650 not in starts and 0 in starts and 1250 in starts
        # a contig shorter than a window is predicted on its padded window
        assert len(bw.intervals("Chr10")) == 3
    assert not list((tmp_path / "tracks").glob("*.tmp*"))


@pytest.mark.parametrize("cache", [False, True])
def test_marks_of_different_windows_get_each_its_own_around_the_same_bins(tmp_path, cache):
    """window.mark_sizes: a 400 bp model beside a 200 bp one writes the track it writes alone, bin for bin."""
    fa, seqs = _genome(tmp_path)
    path, _ = _model(tmp_path)
    wide, wide_model = tiny_model(tmp_path, mark="H3K27me3", seed=1, size=400, stride=STRIDE)
    kw = {"batch_size": 16, "cache": tmp_path / "cache" if cache else None}
    both = predict_genome([path, wide], fa, tmp_path / "both", window={"H3K4me3": SIZE, "H3K27me3": 400}, **kw)
    alone = {**predict_genome([path], fa, tmp_path / "a", **kw), **predict_genome([wide], fa, tmp_path / "b", **kw)}
    for mark in ("H3K4me3", "H3K27me3"):
        with pyBigWig.open(str(both[mark])) as bw, pyBigWig.open(str(alone[mark])) as one:
            for chrom in ("Chr1", "Chr2", "Chr10"):
                assert bw.intervals(chrom) == one.intervals(chrom)
    chrom1 = pad_for_bins(encode(seqs["Chr1"]), 400, STRIDE)  # the wide model's windows, centred on the same bins
    expected = predict_windows([wide_model], chrom1, np.arange(21) * STRIDE, 400)[0]
    with pyBigWig.open(str(both["H3K27me3"])) as bw:
        assert [s for s, _, _ in bw.intervals("Chr1")] == list(range(0, 1030, STRIDE))
        np.testing.assert_allclose([v for _, _, v in bw.intervals("Chr1")], expected, rtol=1e-6)
        # the bins left without a value (windows mostly N: Chr2's gap) are the wide window's
        called = called_bins(encode(seqs["Chr2"]), 400, STRIDE, 0.5)
        assert [s for s, _, _ in bw.intervals("Chr2")] == list(np.flatnonzero(called) * STRIDE)
        assert not called.all()
    with pytest.raises(ValueError, match="trained on 400 bp windows but 200 bp were asked for"):
        predict_genome([path, wide], fa, tmp_path / "bad", window={"H3K4me3": SIZE, "H3K27me3": SIZE})


def test_model_window_must_match_config(tmp_path):
    fa, _ = _genome(tmp_path)
    path, _ = _model(tmp_path)
    with pytest.raises(ValueError, match="trained on 200 bp windows but 1000 bp were asked for"):
        predict_genome([path], fa, tmp_path / "out", window=1000)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_genome_that_fails_to_encode_leaves_no_output_folder(tmp_path):
    fa = write_fasta(tmp_path / "g.fa", {"Chr1": "ACGT" * 100, "Chr2": "ACGT" * 20 + "!" + "ACGT" * 20})
    path, _ = _model(tmp_path)
    with pytest.raises(ValueError, match=r"g.fa, sequence 'Chr2': not a DNA sequence letter: '!' at position 81 \(1-based"):
        predict_genome([path], fa, tmp_path / "new" / "tracks")
    assert not (tmp_path / "new" / "tracks").exists()


def test_a_model_without_window_or_stride_takes_them_from_the_call_or_another_model(tmp_path):
    from ntpipe.model import load_model, save_model

    fa, _ = _genome(tmp_path)
    path, _ = _model(tmp_path)
    model, cfg, _ = load_model(path)
    bare = tmp_path / "bare" / "model.pt"  # as ntpipe train writes a model of a table of several lengths
    bare.parent.mkdir()
    save_model(bare, model, cfg, {"lengths": [150, 250]})
    with pytest.raises(ValueError, match="trained on sequences of 150-250 bp, not on windows of one size: give the window"):
        predict_genome([bare, path], fa, tmp_path / "out")
    for order in ([bare, path], [path, bare]):  # the stride of the model that has one, whatever the order
        out = predict_genome(order, fa, tmp_path / "out", window=SIZE)
        with pyBigWig.open(str(out["bare"])) as bare_bw, pyBigWig.open(str(out["H3K4me3"])) as bw:
            assert bare_bw.intervals("Chr1") == bw.intervals("Chr1") and bw.intervals("Chr1")[1][0] == STRIDE


def test_a_contig_shorter_than_the_stride_gets_one_short_bin(tmp_path):
    fa = write_fasta(tmp_path / "g.fa", {"Chr1": "ACGT" * 100, "tiny": "ACGT" * 5})  # an unplaced 20 bp scaffold
    path, model = _model(tmp_path)
    out = predict_genome([path], fa, tmp_path / "out")["H3K4me3"]
    expected = predict_windows([model], pad_for_bins(encode("ACGT" * 5), SIZE, STRIDE), np.array([0]), SIZE)[0]
    with pyBigWig.open(str(out)) as bw:
        ((start, end, value),) = bw.intervals("tiny")
    assert (start, end) == (0, 20) and value == pytest.approx(float(expected[0]), rel=1e-6)


def test_not_a_model_is_an_error(tmp_path):
    fa, _ = _genome(tmp_path)
    bogus = tmp_path / "model.pt"
    bogus.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not an ntpipe model"):
        predict_genome([bogus], fa, tmp_path / "out")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_engine_matches_cpu(tmp_path):
    _, model = _model(tmp_path)
    padded = pad_for_bins(encode("".join(np.random.default_rng(3).choice(list("ACGT"), 3000))), SIZE, STRIDE)
    starts = np.arange(60) * STRIDE
    cpu = predict_windows([model], padded, starts, SIZE)
    gpu = predict_windows([model.cuda()], padded, starts, SIZE, device=torch.device("cuda"))
    np.testing.assert_allclose(gpu, cpu, atol=2e-2)  # bf16 autocast on CUDA


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_forward_never_waits_for_the_device():
    # full-length windows: no host-device sync in a forward pass, so the engine can queue batches ahead
    from ntpipe.config import model_config
    from ntpipe.model import NucleicTransformer

    model = NucleicTransformer(model_config("small")).cuda().eval()
    tokens = torch.randint(0, 5, (8, 1000), device="cuda")
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
        model(tokens)  # builds the lookup tables
        torch.cuda.set_sync_debug_mode("error")
        try:
            model(tokens)
        finally:
            torch.cuda.set_sync_debug_mode("default")


def _vcf(path, chroms, records):
    """A one-sample bgzipped, indexed VCF; ``records`` are (chrom, pos1, ref, alt)."""
    lines = ["##fileformat=VCFv4.2", *(f"##contig=<ID={c}>" for c in chroms),
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1"]
    lines += [f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\tGT\t1/1" for c, p, r, a in records]
    path.write_text("\n".join(lines) + "\n")
    import pysam

    return pysam.tabix_index(str(path), preset="vcf", force=True)


def test_vcf_in_another_chromosome_naming_gives_the_same_tracks_with_chrom_aliases(tmp_path):
    genome, seqs = _genome(tmp_path)
    model, _ = _model(tmp_path)
    snp = [(c, 100, seqs[c][99].upper(), "A" if seqs[c][99].upper() != "A" else "C") for c in ("Chr1", "Chr2")]
    same = _vcf(tmp_path / "same.vcf", ["Chr1", "Chr2", "Chr10"], snp)
    other = _vcf(tmp_path / "other.vcf", ["chr01", "chr02", "chr10"], [(f"chr0{c[-1]}", *rest) for c, *rest in snp])
    with pytest.raises(ValueError, match=r"chromosome 'chr01' is not in the reference"):
        predict_genome([model], genome, tmp_path / "no", vcf=other, window=SIZE, stride=STRIDE)
    a = predict_genome([model], genome, tmp_path / "a", vcf=same, window=SIZE, stride=STRIDE)
    b = predict_genome([model], genome, tmp_path / "b", vcf=other, window=SIZE, stride=STRIDE, chrom_aliases=True)
    plain = predict_genome([model], genome, tmp_path / "plain", window=SIZE, stride=STRIDE)
    (mark,) = a
    with pyBigWig.open(str(a[mark])) as x, pyBigWig.open(str(b[mark])) as y, pyBigWig.open(str(plain[mark])) as z:
        assert x.chroms() == y.chroms()
        for chrom in x.chroms():
            assert x.intervals(chrom) == y.intervals(chrom)
        assert x.intervals("Chr1") != z.intervals("Chr1")  # the renamed VCF's SNP was applied, not dropped
