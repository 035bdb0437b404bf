import functools
import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pyfaidx
import pytest

from ntpipe.encoding import encode
from ntpipe.grammar import MARKS, true_marks
from ntpipe.simulate import REFERENCE_MAPPED, SCALES, _build_reference, apply_variants, lift_to_reference, panel_files, simulate


def _fasta_tokens(path):
    with pyfaidx.Fasta(str(path)) as fa:
        return {name: encode(fa[name][:].seq) for name in fa.keys()}


def _fasta_names(path):
    with pyfaidx.Fasta(str(path)) as fa:
        return list(fa.keys())


@functools.lru_cache(maxsize=None)
def _sequences(path):
    """``{chrom: uppercase sequence}`` of a FASTA (read once per path)."""
    with pyfaidx.Fasta(str(path)) as fa:
        return {name: str(fa[name]).upper() for name in fa.keys()}


def _bed(path):
    df = pd.read_csv(path, sep="\t", header=None, usecols=[0, 1, 2], names=["chrom", "start", "end"], dtype={0: str})
    return [tuple(r) for r in df.itertuples(index=False, name=None)]


def _sheet(panel, name):
    return pd.read_csv(panel / name, sep="\t", dtype=str, keep_default_na=False)


def _sizes(fa_path):
    with open(str(fa_path) + ".fai") as fh:
        return {line.split("\t")[0]: int(line.split("\t")[1]) for line in fh}


# ---------------------------------------------------------------- grammar on tiny inputs


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


def test_scales_are_the_same_in_the_cli_and_the_config_schema():
    import yaml
    from ntpipe.cli import parse_arguments
    schema = yaml.safe_load((Path(__file__).parent.parent / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert sorted(schema["properties"]["demo"]["properties"]["scale"]["enum"]) == sorted(SCALES)
    for scale in SCALES:
        assert parse_arguments(["simulate", "--out", "x", "--scale", scale]).scale == scale
    with pytest.raises(SystemExit):
        parse_arguments(["simulate", "--out", "x", "--scale", "huge"])


def test_large_scale_has_four_times_the_demo_genes_per_chromosome():
    chroms, genes, _ = _build_reference(np.random.default_rng(1), SCALES["large"])
    demo_chroms, demo_genes, _ = _build_reference(np.random.default_rng(1), SCALES["demo"])
    per_chrom = pd.Series([g["chrom"] for g in genes]).value_counts()
    demo = SCALES["demo"].genes.values()
    assert 4 * sum(lo for lo, _ in demo) <= per_chrom.min() <= per_chrom.max() <= 4 * sum(hi for _, hi in demo)
    assert len(genes) >= 3.9 * len(demo_genes)
    assert 3.5 < sum(map(len, chroms.values())) / sum(map(len, demo_chroms.values())) < 4.5


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
        genome = test_panel / ("reference.fa" if cultivar in REFERENCE_MAPPED else f"cultivars/{cultivar}.fa")
        sizes = _sizes(genome)
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


@pytest.mark.parametrize("cultivar, genome, truth", [("CV01", "cultivars/CV01.fa", "CV01.H3K4me3.bed"),
                                                     ("CV13", "reference.fa", "CV13.H3K4me3.ref.bed")])
def test_bams_are_sorted_indexed_and_enriched(test_panel, cultivar, genome, truth):
    # CV01 is aligned to its own genome, CV13 (reference-mapped) to the reference
    with pyfaidx.Fasta(str(test_panel / genome), sequence_always_upper=True) as fa:
        seqs = {c: fa[c][:].seq for c in fa.keys()}
    truth = _bed(test_panel / "truth" / truth)
    fractions = {}
    for name in (f"{cultivar}.H3K4me3", f"{cultivar}.input"):
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
    assert fractions[f"{cultivar}.H3K4me3"] > 2 * fractions[f"{cultivar}.input"]


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


def test_reference_mapped_cultivars_vcf_peaks_and_truth(test_panel):
    training = _sheet(test_panel, "training.tsv")
    mapped = training[training.vcf != ""]
    assert sorted(set(mapped.cultivar)) == list(REFERENCE_MAPPED) and (mapped.genome == "").all()
    assert (mapped["sample"] == mapped.cultivar).all() and set(mapped.vcf) == {str(test_panel / "cultivars.vcf.gz")}
    vcf_path = mapped.vcf.iloc[0]
    assert os.path.exists(vcf_path + ".tbi")
    with pysam.VariantFile(vcf_path) as vcf:
        assert list(vcf.header.samples) == list(REFERENCE_MAPPED)
        assert list(vcf.header.contigs) == _fasta_names(test_panel / "reference.fa")
    for name in REFERENCE_MAPPED:
        # the VCF applied to the reference is the cultivar's own sequence
        own = _fasta_tokens(test_panel / "cultivars" / f"{name}.fa")
        consensus = _apply_vcf(test_panel / "reference.fa", vcf_path, name)
        assert all(np.array_equal(consensus[c], own[c]) for c in own), name
        for mark, ext in (("H3K4me3", "narrowPeak"), ("H3K27me3", "broadPeak")):
            truth = _bed(test_panel / "truth" / f"{name}.{mark}.ref.bed")
            assert len(truth) == len(_bed(test_panel / "truth" / f"{name}.{mark}.bed"))
            peaks = _bed(test_panel / "peaks" / f"{name}.{mark}.{ext}")
            # the lifted peaks fall on the reference where the cultivar's truth has the mark, their ends
            # within the peak caller's noise (150 bp) and an indel (20 bp) of the lifted truth's
            near = [t for t in truth if any(c == t[0] and abs(s - t[1]) <= 170 and abs(e - t[2]) <= 170 for c, s, e in peaks)]
            assert len(near) >= 0.6 * len(truth), (name, mark, len(near), len(truth))
            on_truth = [p for p in peaks if any(c == p[0] and s < p[2] and e > p[1] for c, s, e in truth)]
            assert len(on_truth) >= 0.8 * len(peaks), (name, mark)
        if name == "CV13":  # its H3K4me3 row reads alignments to the reference, not peaks
            row = mapped[(mapped.cultivar == name) & (mapped.mark == "H3K4me3")].iloc[0]
            assert row.peaks == "" and row.bam.endswith("CV13.H3K4me3.bam") and row.control.endswith("CV13.input.bam")


def test_fasta_genomes_match_their_truth(test_panel):
    genomes = [test_panel / "cultivars" / "CV01.fa", test_panel / "cultivars" / "CV15.fa"]
    genomes += sorted((test_panel / "varieties").glob("*.fa"))
    for path in genomes:
        name = path.name[: -len(".fa")]
        truth = true_marks(_fasta_tokens(path))
        for mark in MARKS:
            assert truth[mark] == _bed(test_panel / "truth" / f"{name}.{mark}.bed")


def test_other_rules_place_the_marks(tmp_path, test_panel):
    def rules(tokens_by_chrom):  # a mark wherever a genome holds the word GATTACA, either strand, 200 bp after it
        out = {mark: [] for mark in MARKS}
        for chrom, tokens in tokens_by_chrom.items():
            seq = "".join("ACGTN"[t] for t in tokens)
            starts = sorted({i for word in ("GATTACA", "TGTAATC") for i in range(len(seq)) if seq.startswith(word, i)})
            out["H3K4me3"] += [(chrom, s, min(s + 200, len(seq))) for s in starts]
        return out

    panel = simulate(tmp_path / "other", seed=1, scale="test", rules=rules)
    assert (panel / "reference.fa").read_bytes() == (test_panel / "reference.fa").read_bytes()  # the same genomes
    for path in [panel / "reference.fa", panel / "cultivars" / "CV01.fa", *sorted((panel / "varieties").glob("*.fa"))]:
        name = path.name[: -len(".fa")]
        truth = rules(_fasta_tokens(path))
        assert len(truth["H3K4me3"]) > 5
        for mark in MARKS:
            assert _bed(panel / "truth" / f"{name}.{mark}.bed") == truth[mark]
    peaks = pd.read_csv(panel / "peaks" / "CV03.H3K4me3.narrowPeak", sep="\t", header=None)
    assert len(peaks) > 0 and not (panel / "truth" / "CV03.H3K27me3.bed").read_text()  # peaks from these rules' marks


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


def _genes(panel):
    return pd.read_csv(panel / "truth" / "genes.tsv", sep="\t", dtype={"chrom": str, "required_starts": str, "decoy_starts": str},
                       keep_default_na=False)


def _at_tss(truth, chrom, tss):
    return [iv for iv in truth if iv[0] == chrom and iv[1] <= tss < iv[2]]


def test_planted_genes_carry_their_class_marks(test_panel):
    truth = _bed(test_panel / "truth" / "reference.H3K4me3.bed"), _bed(test_panel / "truth" / "reference.H3K27me3.bed")
    genes = _genes(test_panel)
    assert {"H3K4me3", "H3K27me3", "near_H3K4me3"} <= set(genes["class"])
    expected = {"H3K4me3": (True, False), "H3K27me3": (False, True), "near_H3K4me3": (False, False), "none": (False, False)}
    for g, cls in zip(genes.itertuples(), genes["class"]):
        k4, k27 = (bool(_at_tss(t, g.chrom, g.tss)) for t in truth)
        assert (k4, k27) == expected[cls], g


def _read_gff3(path):
    """Gene features of a GFF3 file: 9 tab-separated columns, attributes as key=value;..."""
    rows = []
    with open(path) as fh:
        lines = fh.read().splitlines()
    assert lines[0] == "##gff-version 3"
    for line in lines[1:]:
        if line.startswith("#"):
            continue
        seqid, source, kind, start, end, score, strand, phase, attrs = line.split("\t")
        attrs = dict(kv.split("=", 1) for kv in attrs.split(";"))
        rows.append({"chrom": seqid, "type": kind, "start": int(start), "end": int(end), "strand": strand, **attrs})
    return pd.DataFrame(rows)


def test_genes_gff3_reads_back_and_matches_genes_tsv(test_panel):
    gff = _read_gff3(test_panel / "truth" / "genes.gff3")
    genes = _genes(test_panel)
    sizes = _sizes(test_panel / "reference.fa")
    assert (gff["type"] == "gene").all() and gff["ID"].is_unique
    assert list(gff["ID"]) == list(genes["gene"]) and list(gff["class"]) == list(genes["class"])
    assert ((gff.start >= 1) & (gff.start <= gff.end) & (gff.end <= gff.chrom.map(sizes))).all()
    # the TSS (0-based in genes.tsv) is the gene's start on +, its end on -
    tss = np.where(gff.strand == "+", gff.start - 1, gff.end - 1)
    assert list(tss) == list(genes.tss) and list(gff.strand) == list(genes.strand)
    with pysam.FastaFile(str(test_panel / "reference.fa")) as fa:  # the initiator's A sits at every core promoter's TSS
        for g in genes[genes["class"] != "near_H3K4me3"].itertuples():
            assert fa.fetch(g.chrom, g.tss, g.tss + 1).upper() == ("A" if g.strand == "+" else "T")


@pytest.mark.parametrize("mark", MARKS)
def test_truth_depends_on_required_elements(test_panel, mark):
    tokens = _fasta_tokens(test_panel / "reference.fa")
    genes = _genes(test_panel)
    genes = genes[(genes["class"] == mark) & (genes.required_starts != "")]
    before = true_marks(tokens)[mark]
    n_changed = 0
    for g in genes.itertuples():
        for start in map(int, g.required_starts.split(",")):
            hit = _at_tss(before, g.chrom, g.tss)
            assert len(hit) == 1
            seq = tokens[g.chrom].copy()
            seq[start + 3] = (seq[start + 3] + 1) % 4
            after = true_marks({**tokens, g.chrom: seq})[mark]
            assert not _at_tss(after, g.chrom, g.tss)
            assert len(after) == len(before) - 1
            n_changed += 1
    assert n_changed >= 10


def test_events_are_consistent(test_panel):
    events = pd.read_csv(test_panel / "events.tsv", sep="\t", dtype={"chrom": str})
    assert list(events.columns) == ["variety", "chrom", "ref_pos", "mark", "effect", "ref_start", "ref_end", "cultivars"]
    assert (events.effect == "lost").any()
    assert events.cultivars.between(0, 20).all()
    assert (events.cultivars == 0).any() and (events.cultivars > 0).any()  # private and shared with cultivars
    varieties = set(_sheet(test_panel, "varieties.tsv").variety)
    genes = _genes(test_panel)
    for e in events.itertuples():
        assert e.variety in varieties
        ref_truth = _bed(test_panel / "truth" / f"reference.{e.mark}.bed")
        var_truth = _bed(test_panel / "truth" / f"{e.variety}.{e.mark}.ref.bed")
        # the variant sits in the promoter of a gene whose TSS the interval covers
        gene = genes[(genes.chrom == e.chrom) & (genes.tss >= e.ref_start) & (genes.tss < e.ref_end)]
        assert len(gene) == 1 and abs(int(gene.tss.iloc[0]) - e.ref_pos) <= 520
        interval = (e.chrom, e.ref_start, e.ref_end)
        overlaps = lambda ivs: [iv for iv in ivs if iv[0] == e.chrom and iv[1] < e.ref_end and iv[2] > e.ref_start]  # noqa: E731
        if e.effect == "lost":
            assert interval in ref_truth and not overlaps(var_truth)
        else:
            assert interval in var_truth and not overlaps(ref_truth)
        # the cultivars carrying the variant lack the reference base in its context (no other variant
        # falls within 20 bp of a planted one: it sits in a promoter kept free of them)
        reference = _sequences(test_panel / "reference.fa")[e.chrom]
        context = reference[e.ref_pos - 20 : e.ref_pos + 21]
        cultivars = sorted((test_panel / "cultivars").glob("*.fa"))
        assert len(cultivars) == 20
        assert sum(context not in _sequences(path)[e.chrom] for path in cultivars) == e.cultivars, e


def test_sheets_have_design_columns_and_paths_exist(test_panel):
    training = _sheet(test_panel, "training.tsv")
    assert list(training.columns) == ["cultivar", "mark", "genome", "vcf", "sample", "peaks", "bam", "control"]
    assert len(training) == 40 and set(training.mark) == set(MARKS)
    assert ((training.genome != "") != (training.vcf != "")).all()
    bam_rows = training[training.bam != ""]
    assert list(zip(bam_rows.cultivar, bam_rows.mark)) == [("CV01", "H3K4me3"), ("CV13", "H3K4me3")]
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


def _written(panel):
    return sorted(str(p.relative_to(panel)) for p in panel.rglob("*") if p.is_file())


def test_panel_files_lists_what_the_simulator_writes(tmp_path, test_panel):
    assert panel_files("test") == _written(test_panel)
    for n in (1, 2):  # FASTA varieties only; one FASTA and one VCF variety
        assert panel_files("test", n_varieties=n) == _written(simulate(tmp_path / f"n{n}", scale="test", n_varieties=n))
    with pytest.raises(ValueError, match="scale must be one of"):
        panel_files("huge")


def test_same_seed_same_bytes(tmp_path, test_panel):
    again = simulate(tmp_path / "again", seed=1, scale="test")
    other = simulate(tmp_path / "other", seed=2, scale="test", n_varieties=2)
    for rel in ("reference.fa", "varieties.vcf.gz", "cultivars.vcf.gz", "events.tsv", "peaks/CV03.H3K4me3.narrowPeak",
                "peaks/CV04.H3K4me3.narrowPeak", "bam/CV01.input.bam", "bam/CV13.H3K4me3.bam"):
        assert (again / rel).read_bytes() == (test_panel / rel).read_bytes(), rel
    assert (other / "reference.fa").read_bytes() != (test_panel / "reference.fa").read_bytes()
    assert len(_sheet(other, "varieties.tsv")) == 2


def test_committed_demo_sheets_match_the_simulator(tmp_path, monkeypatch):
    # config/*.tsv name the files `ntpipe simulate --out resources/demo` writes
    repo = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(tmp_path)
    simulate("resources/demo", seed=1, scale="demo")
    assert panel_files("demo") == _written(tmp_path / "resources/demo")
    for sheet in ("training.tsv", "varieties.tsv"):
        assert (tmp_path / "resources/demo" / sheet).read_text() == (repo / "config" / sheet).read_text()
    # enough marked genes on every chromosome, the held-out ones included, to measure transfer
    demo = tmp_path / "resources/demo"
    genes = _genes(demo)
    for mark, least in (("H3K4me3", 12), ("H3K27me3", 5)):
        truth = _bed(demo / "truth" / f"reference.{mark}.bed")
        for i in range(1, 13):
            marked = [g for g in genes[genes.chrom == f"Chr{i}"].itertuples() if _at_tss(truth, g.chrom, g.tss)]
            assert len(marked) >= least, (mark, i, len(marked))
