import gzip
import os

import numpy as np
import pandas as pd
import pysam
import pyfaidx
import pytest

from ntpipe.encoding import encode
from ntpipe.simulate import (
    ACTIVATING_MOTIFS,
    K4_DOWN,
    K4_UP,
    K27_PAD,
    MARKS,
    MOTIF_LEN,
    REPRESSIVE_MOTIFS,
    apply_variants,
    lift_to_reference,
    simulate,
    true_marks,
)


def _fasta_tokens(path):
    with pyfaidx.Fasta(str(path)) as fa:
        return {name: encode(fa[name][:].seq) for name in fa.keys()}


def _fasta_names(path):
    with pyfaidx.Fasta(str(path)) as fa:
        return list(fa.keys())


def _bed(path):
    df = pd.read_csv(path, sep="\t", header=None, usecols=[0, 1, 2], names=["chrom", "start", "end"], dtype={0: str})
    return [tuple(r) for r in df.itertuples(index=False, name=None)]


def _sheet(panel, name):
    return pd.read_csv(panel / name, sep="\t", dtype=str, keep_default_na=False)


def _sizes(fa_path):
    with open(str(fa_path) + ".fai") as fh:
        return {line.split("\t")[0]: int(line.split("\t")[1]) for line in fh}


# ---------------------------------------------------------------- grammar on tiny inputs


def _plant(n, motifs):
    seq = np.full(n, 1, dtype=np.uint8)  # all C: no motif anywhere
    for pos, word in motifs:
        seq[pos : pos + len(word)] = encode(word)
    return seq


def _rc(word):
    return word[::-1].translate(str.maketrans("ACGT", "TGCA"))


def test_k4_needs_a_cluster_and_spreads_downstream():
    a, b = ACTIVATING_MOTIFS[:2]
    assert true_marks({"c": _plant(5000, [(1000, a)])})["H3K4me3"] == []
    assert true_marks({"c": _plant(5000, [(1000, a), (1400, b)])})["H3K4me3"] == []  # too far apart
    plus = true_marks({"c": _plant(5000, [(1000, a), (1100, b)])})["H3K4me3"]
    assert plus == [("c", 1000 - K4_UP, 1100 + MOTIF_LEN + K4_DOWN)]
    minus = true_marks({"c": _plant(5000, [(3000, _rc(a)), (3100, _rc(b))])})["H3K4me3"]
    assert minus == [("c", 3000 - K4_DOWN, 3100 + MOTIF_LEN + K4_UP)]


def test_k27_needs_nucleation_and_spreads_over_linked_motifs():
    r = REPRESSIVE_MOTIFS
    two = [(2000, r[0]), (2150, r[1])]
    spread = [(3300, r[2]), (4100, _rc(r[0])), (4900, r[1])]
    assert true_marks({"c": _plant(9000, two + spread)})["H3K27me3"] == []
    three = two + [(2300, _rc(r[2]))]
    assert true_marks({"c": _plant(9000, three + spread)})["H3K27me3"] == [("c", 2000 - K27_PAD, 4900 + MOTIF_LEN + K27_PAD)]
    assert true_marks({"c": _plant(9000, three)})["H3K27me3"] == [("c", 2000 - K27_PAD, 2300 + MOTIF_LEN + K27_PAD)]


def test_motifs_ignore_case_and_n():
    a, b = ACTIVATING_MOTIFS[:2]
    seq = _plant(3000, [(500, a), (600, b)])
    assert true_marks({"c": encode(_decode_lower(seq))})["H3K4me3"] == true_marks({"c": seq})["H3K4me3"]
    seq[603] = 4
    assert true_marks({"c": seq})["H3K4me3"] == []


def _decode_lower(tokens):
    return "".join("acgtn"[t] for t in tokens)


def test_apply_variants_and_lift():
    ref = "ACGTacgtACGTACGT"
    variants = [(1, "C", "T"), (4, "ACG", "a"), (9, "C", "CTTT")]
    seq = apply_variants(ref, variants)
    assert seq == "ATGTatACTTTGTACGT"
    assert list(lift_to_reference([0, 1, 5, 6, 10, 12, 13, 16], variants)) == [0, 1, 7, 8, 9, 11, 12, 15]
    with pytest.raises(ValueError, match="does not match"):
        apply_variants(ref, [(0, "C", "T")])
    with pytest.raises(ValueError, match="overlaps"):
        apply_variants(ref, [(4, "ACG", "A"), (5, "C", "T")])


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="scale"):
        simulate(tmp_path, scale="huge")
    with pytest.raises(ValueError, match="n_varieties"):
        simulate(tmp_path, scale="test", n_varieties=0)


# ---------------------------------------------------------------- the simulated panel


def test_fastas_open_in_fai_order(test_panel):
    paths = [test_panel / "reference.fa", *sorted((test_panel / "cultivars").glob("*.fa"))]
    paths += sorted((test_panel / "varieties").glob("*.fa"))
    assert len(paths) == 1 + 20 + 1
    for path in paths:
        names = _fasta_names(path)
        assert names.index("Chr10") > names.index("Chr9") > names.index("Chr2")
    sizes = _sizes(test_panel / "reference.fa")
    assert sum(sizes.values()) <= 100_000
    assert sizes["ChrUn_scaffold1"] < 1000
    assert [c for c in sizes if c.startswith("Chr") and c[3:].isdigit()] == [f"Chr{i}" for i in range(1, 11)]


def test_reference_is_soft_masked_with_gaps(test_panel):
    with pyfaidx.Fasta(str(test_panel / "reference.fa"), sequence_always_upper=False) as fa:
        seq = "".join(fa[c][:].seq for c in fa.keys())
    lower = sum(ch.islower() for ch in seq)
    assert 0.01 < lower / len(seq) < 0.2
    assert "N" * 100 in seq
    gc = sum(ch in "GCgc" for ch in seq) / sum(ch not in "Nn" for ch in seq)
    assert 0.40 < gc < 0.47


def test_reference_truth_has_both_marks_on_every_chromosome(test_panel):
    tokens = _fasta_tokens(test_panel / "reference.fa")
    truth = true_marks(tokens)
    for mark in MARKS:
        assert truth[mark] == _bed(test_panel / "truth" / f"reference.{mark}.bed")
        chroms = [c for c, _, _ in truth[mark]]
        for i in range(1, 11):
            assert chroms.count(f"Chr{i}") >= 2, (mark, i)


def test_peaks_parse_within_chromosomes(test_panel):
    files = sorted((test_panel / "peaks").iterdir())
    assert len(files) == 40
    assert (test_panel / "peaks" / "CV02.H3K4me3.narrowPeak.gz").exists()
    for path in files:
        cultivar = path.name.split(".")[0]
        sizes = _sizes(test_panel / "cultivars" / f"{cultivar}.fa")
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as fh:
            rows = [line.rstrip("\n").split("\t") for line in fh]
        assert rows
        assert {len(r) for r in rows} == {10 if ".narrowPeak" in path.name else 9}
        for r in rows:
            start, end = int(r[1]), int(r[2])
            assert 0 <= start < end <= sizes[r[0]]
            assert 0 <= int(r[4]) <= 1000


def test_peaks_follow_truth_with_noise(test_panel):
    truth = _bed(test_panel / "truth" / "CV05.H3K27me3.bed")
    peaks = _bed(test_panel / "peaks" / "CV05.H3K27me3.broadPeak")
    found = sum(any(c == pc and s < pe and e > ps for pc, ps, pe in peaks) for c, s, e in truth)
    assert 0.6 * len(truth) <= found <= len(truth)
    assert peaks != truth


def test_bams_are_sorted_indexed_and_enriched(test_panel):
    with pyfaidx.Fasta(str(test_panel / "cultivars" / "CV01.fa"), sequence_always_upper=True) as fa:
        seqs = {c: fa[c][:].seq for c in fa.keys()}
    truth = _bed(test_panel / "truth" / "CV01.H3K4me3.bed")
    fractions = {}
    for name in ("CV01.H3K4me3", "CV01.input"):
        path = test_panel / "bam" / f"{name}.bam"
        assert os.path.exists(str(path) + ".bai")
        with pysam.AlignmentFile(str(path)) as bam:
            assert [(sq["SN"], sq["LN"]) for sq in bam.header.to_dict()["SQ"]] == [(c, len(s)) for c, s in seqs.items()]
            reads = list(bam.fetch())
            assert 1000 < len(reads) < 10_000
            assert bam.count("Chr3") > 0  # the index works
        strands = {r.is_reverse for r in reads}
        assert strands == {True, False}
        for r in reads[:200]:
            assert r.cigarstring == "100M" and r.mapping_quality == 60
            assert r.query_sequence == seqs[r.reference_name][r.reference_start : r.reference_start + 100]
        inside = sum(any(c == r.reference_name and s <= r.reference_start < e for c, s, e in truth) for r in reads)
        fractions[name] = inside / len(reads)
    assert fractions["CV01.H3K4me3"] > 2 * fractions["CV01.input"]


def _apply_vcf(ref_path, vcf_path, sample):
    """Independent consensus: ALT for any GT holding 1 (het included), reference for missing."""
    with pyfaidx.Fasta(str(ref_path), sequence_always_upper=False) as fa:
        seqs = {c: fa[c][:].seq for c in fa.keys()}
    out, pieces, prev = {}, {c: [] for c in seqs}, {c: 0 for c in seqs}
    with pysam.VariantFile(str(vcf_path)) as vcf:
        for rec in vcf.fetch():
            gt = rec.samples[sample]["GT"]
            seq = seqs[rec.chrom]
            assert seq[rec.start : rec.stop].upper() == rec.ref
            if 1 not in gt:
                continue
            assert rec.start >= prev[rec.chrom]
            pieces[rec.chrom].append(seq[prev[rec.chrom] : rec.start] + rec.alts[0])
            prev[rec.chrom] = rec.stop
    for c, seq in seqs.items():
        out[c] = encode("".join(pieces[c]) + seq[prev[c] :])
    return out


def test_vcf_records_and_consensus_match_truth(test_panel):
    sheet = _sheet(test_panel, "varieties.tsv")
    vcf_rows = sheet[sheet.vcf != ""]
    assert len(vcf_rows) == 2
    vcf_path = vcf_rows.vcf.iloc[0]
    assert os.path.exists(vcf_path + ".tbi")
    with pysam.VariantFile(vcf_path) as vcf:
        assert list(vcf.header.contigs) == _fasta_names(test_panel / "reference.fa")
        records = list(vcf.fetch())
        samples = list(vcf.header.samples)
    assert samples == list(vcf_rows["sample"])
    gts = [rec.samples[s]["GT"] for rec in records for s in samples]
    assert (0, 1) in gts and (None, None) in gts and (1, 1) in gts
    assert any(len(rec.ref) > 1 for rec in records) and any(len(rec.alts[0]) > 1 for rec in records)
    ends = {}
    for rec in records:  # sorted, no two records overlap
        assert rec.start >= ends.get(rec.chrom, 0)
        ends[rec.chrom] = rec.stop
    for sample in samples:
        truth = true_marks(_apply_vcf(test_panel / "reference.fa", vcf_path, sample))
        for mark in MARKS:
            assert truth[mark] == _bed(test_panel / "truth" / f"{sample}.{mark}.bed")
            assert len(_bed(test_panel / "truth" / f"{sample}.{mark}.ref.bed")) == len(truth[mark])


def test_fasta_genomes_match_their_truth(test_panel):
    genomes = [test_panel / "cultivars" / "CV01.fa", test_panel / "cultivars" / "CV15.fa"]
    genomes += sorted((test_panel / "varieties").glob("*.fa"))
    for path in genomes:
        name = path.name[: -len(".fa")]
        truth = true_marks(_fasta_tokens(path))
        for mark in MARKS:
            assert truth[mark] == _bed(test_panel / "truth" / f"{name}.{mark}.bed")


def test_cultivars_differ_from_reference_with_haplotypes(test_panel):
    ref = _fasta_tokens(test_panel / "reference.fa")
    diffs = {}
    for i in (1, 2, 11, 12):
        cv = _fasta_tokens(test_panel / "cultivars" / f"CV{i:02d}.fa")
        lengths_differ = sum(len(cv[c]) != len(ref[c]) for c in ref)
        diffs[i] = lengths_differ
    assert max(diffs.values()) > 0  # indels present
    a = (test_panel / "cultivars" / "CV11.fa").read_bytes()
    assert a != (test_panel / "reference.fa").read_bytes()


def _threshold_gene(panel, cls, n_core):
    genes = pd.read_csv(panel / "truth" / "genes.tsv", sep="\t", dtype={"core_starts": str})
    genes = genes[genes["class"] == cls]
    for g in genes.itertuples():
        core = [int(p) for p in g.core_starts.split(",")]
        if len(core) == n_core:
            return g.chrom, core
    raise AssertionError(f"no {cls} gene with {n_core} core motifs")


@pytest.mark.parametrize("mark, n_core", [("H3K4me3", 2), ("H3K27me3", 3)])
def test_truth_depends_on_sequence(test_panel, mark, n_core):
    tokens = _fasta_tokens(test_panel / "reference.fa")
    chrom, core = _threshold_gene(test_panel, mark, n_core)
    before = true_marks(tokens)[mark]
    hit = [iv for iv in before if iv[0] == chrom and iv[1] <= core[0] < iv[2]]
    assert len(hit) == 1
    tokens[chrom] = tokens[chrom].copy()
    tokens[chrom][core[0] + 3] = (tokens[chrom][core[0] + 3] + 1) % 4
    after = true_marks(tokens)[mark]
    assert hit[0] not in after
    assert not [iv for iv in after if iv[0] == chrom and iv[1] <= core[0] < iv[2]]
    assert len(after) == len(before) - 1


def test_events_are_consistent(test_panel):
    events = pd.read_csv(test_panel / "events.tsv", sep="\t", dtype={"chrom": str})
    assert list(events.columns) == ["variety", "chrom", "ref_pos", "mark", "effect", "ref_start", "ref_end"]
    assert (events.effect == "lost").any()
    varieties = set(_sheet(test_panel, "varieties.tsv").variety)
    for e in events.itertuples():
        assert e.variety in varieties
        ref_truth = _bed(test_panel / "truth" / f"reference.{e.mark}.bed")
        var_truth = _bed(test_panel / "truth" / f"{e.variety}.{e.mark}.ref.bed")
        assert e.ref_start <= e.ref_pos < e.ref_end
        interval = (e.chrom, e.ref_start, e.ref_end)
        overlaps = lambda ivs: [iv for iv in ivs if iv[0] == e.chrom and iv[1] < e.ref_end and iv[2] > e.ref_start]  # noqa: E731
        if e.effect == "lost":
            assert interval in ref_truth and not overlaps(var_truth)
        else:
            assert interval in var_truth and not overlaps(ref_truth)


def test_sheets_have_design_columns_and_paths_exist(test_panel):
    training = _sheet(test_panel, "training.tsv")
    assert list(training.columns) == ["cultivar", "mark", "genome", "peaks", "bam", "control"]
    assert len(training) == 40 and set(training.mark) == set(MARKS)
    bam_rows = training[training.bam != ""]
    assert list(zip(bam_rows.cultivar, bam_rows.mark)) == [("CV01", "H3K4me3")]
    assert (bam_rows.peaks == "").all() and (bam_rows.control != "").all()
    assert (training[training.bam == ""].peaks != "").all()
    varieties = _sheet(test_panel, "varieties.tsv")
    assert list(varieties.columns) == ["variety", "genome", "vcf", "sample"]
    assert ((varieties.genome != "") != (varieties.vcf != "")).all()
    assert varieties.variety.str.fullmatch(r"[A-Za-z0-9._-]+").all()
    for df in (training, varieties):
        for col in ("genome", "peaks", "bam", "control", "vcf"):
            for path in df.get(col, []):
                assert path == "" or os.path.exists(path), path


def test_same_seed_same_bytes(tmp_path, test_panel):
    again = simulate(tmp_path / "again", seed=1, scale="test")
    other = simulate(tmp_path / "other", seed=2, scale="test", n_varieties=2)
    for rel in ("reference.fa", "varieties.vcf.gz", "events.tsv", "peaks/CV03.H3K4me3.narrowPeak", "bam/CV01.input.bam"):
        assert (again / rel).read_bytes() == (test_panel / rel).read_bytes(), rel
    assert (other / "reference.fa").read_bytes() != (test_panel / "reference.fa").read_bytes()
    assert len(_sheet(other, "varieties.tsv")) == 2


def test_committed_demo_sheets_match_the_simulator(tmp_path, monkeypatch):
    # config/*.tsv name the files `ntpipe simulate --out resources/demo` writes
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(tmp_path)
    simulate("resources/demo", seed=1, scale="demo")
    for sheet in ("training.tsv", "varieties.tsv"):
        assert (tmp_path / "resources/demo" / sheet).read_text() == (repo / "config" / sheet).read_text()
