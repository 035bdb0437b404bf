"""Tests for ntpipe.vcfstore: a VCF's calls extracted once, one sample loaded
as read_variants reads it, the same errors, and predictions equal to the VCF's."""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pysam
import pytest
from test_variants import CHR1, CHR2, GATK_RECORDS, write_vcf

from ntpipe.bigwig import read_bins
from ntpipe.genome import write_fasta
from ntpipe.encoding import encode
from ntpipe.variants import apply_variants, read_variants
from ntpipe.vcfstore import VERSION, extract_variants, load_variants, store_names

SAMPLES = ("IRIS1", "IRIS2", "IRIS3", "IRIS4")
# every rule of the genotype rule, indels, a record without GT, one on a chromosome of its own; Chr10 has none
RECORDS = [
    ("Chr1", 1, "A", "G", "0/1", "1/1", "./.", "0|0"),  # het, hom, missing, phased ref
    ("Chr1", 3, "A", "AT", "1|1", "0/0", "1", "."),  # insertion; haploid call; missing
    ("Chr1", 5, "C", "G,T", "1/2", "2/2", "0/2", "./2"),  # multi-allelic
    ("Chr1", 6, "CCC", "C", "0/0", "0/1", "1/1", "0/0"),  # deletion over 0-based 5..7
    ("Chr1", 10, "G", "GAA,T", "2/2", "1/1", "0/0", "1/2"),
    ("Chr1", 13, "T", "A", "0/0", "0/0", "0/3", "1/3"),  # an allele the record lacks counts as missing (pysam)
    ("Chr1", 17, "A", "<DEL>", "0/0", "./.", "0/0", "0/0"),  # symbolic, carried by nobody
    ("Chr1", 21, "ACG", "A,ATCG", "1/1", "2/2", "0/1", "./."),
    ("Chr2", 5, "T", "C", "1/1", "0/1", "0/0", "1/1"),
    ("Chr2", 9, "ACGT", "A", "0/0", "1/1", "1/1", "0/0"),
]


@pytest.fixture
def reference(tmp_path):
    # Chr10 before Chr2: fai order, not name order
    return write_fasta(tmp_path / "ref.fa", {"Chr1": CHR1, "Chr10": "GGGGCCCC", "Chr2": CHR2})


def assert_same(got, expected):
    assert list(got) == list(expected)
    for chrom in expected:
        np.testing.assert_array_equal(got[chrom].pos, expected[chrom].pos)
        assert got[chrom].pos.dtype == np.int64
        assert got[chrom].ref == expected[chrom].ref and got[chrom].alt == expected[chrom].alt, chrom


@pytest.mark.parametrize("chunk_records, threads", [(8192, 1), (2, 2), (1, 1)])
def test_every_sample_loads_as_read_variants_reads_it(tmp_path, reference, chunk_records, threads):
    vcf = write_vcf(tmp_path, RECORDS, samples=SAMPLES)
    store = extract_variants(vcf, reference, tmp_path / "store", threads=threads, chunk_records=chunk_records)
    for sample in SAMPLES:
        assert_same(load_variants(store, sample, reference), read_variants(vcf, sample, reference))
    assert sorted(p.name for p in store.iterdir()) == ["0", "2", "meta.json"]  # Chr10 has no records: no files
    assert not list(tmp_path.glob("*.tmp"))


def test_records_without_gt_and_a_single_sample_vcf(tmp_path, reference):
    path = tmp_path / "nogt.vcf"
    path.write_text(textwrap.dedent("""\
        ##fileformat=VCFv4.2
        ##contig=<ID=Chr1>
        ##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
        ##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
        #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tIRIS1
        Chr1\t2\t.\tA\tT\t.\t.\t.\tDP\t7
        Chr1\t5\t.\tC\tG\t.\t.\t.\tGT:DP\t1/1:3
        """))
    import pysam

    vcf = pysam.tabix_index(str(path), preset="vcf", force=True)
    store = extract_variants(vcf, reference, tmp_path / "store")
    assert_same(load_variants(store, None, reference), read_variants(vcf, None, reference))
    assert load_variants(store, None, reference)["Chr1"].alt == ["G"]


def test_a_sample_with_every_call_missing_is_a_warning(tmp_path, reference, caplog):
    """A sample that failed calling in a merged panel gets the reference's tracks: say so."""
    records = [(c, p, r, a, g1, "./.") for c, p, r, a, g1, *_ in RECORDS]
    vcf = write_vcf(tmp_path, records, samples=("IRIS1", "IRIS2"))
    store = extract_variants(vcf, reference, tmp_path / "store")
    for load in (lambda s: load_variants(store, s, reference), lambda s: read_variants(vcf, s, reference)):
        caplog.clear()
        with caplog.at_level("INFO", logger="ntpipe"):
            assert sum(len(v) for v in load("IRIS2").values()) == 0
            assert sum(len(v) for v in load("IRIS1").values()) > 0
        missing = [r for r in caplog.records if r.levelname == "WARNING" and "no variant applied" in r.getMessage()]
        assert len(missing) == 1 and "sample IRIS2: no variant applied among 10 records" in missing[0].getMessage()


def test_a_bcf_declaring_contigs_without_records(tmp_path, reference):
    """A BCF's index lists every declared contig, with records or not: Chr10 (in the reference) and
    ChrC (not in it; organelles beside a nuclear reference) have none."""
    import pysam
    import pysam.bcftools

    plain = write_vcf(tmp_path, RECORDS, samples=SAMPLES, contigs=("Chr1", "Chr10", "Chr2", "ChrC"))
    bcf = tmp_path / "calls.bcf"
    pysam.bcftools.view("-Ob", "-o", str(bcf), plain, catch_stdout=False)
    pysam.bcftools.index(str(bcf))
    with pysam.VariantFile(str(bcf)) as handle:
        assert sorted(handle.index) == ["Chr1", "Chr10", "Chr2", "ChrC"]
    store = extract_variants(bcf, reference, tmp_path / "store")
    for sample in SAMPLES:
        assert_same(load_variants(store, sample, reference), read_variants(plain, sample, reference))


def test_chromosome_aliases(tmp_path, reference):
    records = [("1", 2, "A", "T", "1/1", "0/0"), ("2", 5, "T", "C", "1/1", "1/1")]
    vcf = write_vcf(tmp_path, records, samples=("IRIS1", "IRIS2"), contigs=("1", "10", "2"))
    with pytest.raises(ValueError, match=r"calls.vcf.gz: 1:2: chromosome '1' is not in the reference"):
        extract_variants(vcf, reference, tmp_path / "store")
    store = extract_variants(vcf, reference, tmp_path / "store", aliases=True)
    for sample in ("IRIS1", "IRIS2"):
        assert_same(load_variants(store, sample, reference), read_variants(vcf, sample, reference, aliases=True))
    assert load_variants(store, "IRIS1", reference)["Chr1"].alt == ["T"]


def error_of(fn, *args, **kw):
    with pytest.raises(ValueError) as err:
        fn(*args, **kw)
    return str(err.value)


@pytest.mark.parametrize("records, message", [
    ([("Chr1", 2, "C", "T", "1/1", "0/0")], r"calls.vcf.gz: Chr1:2: REF 'C' does not match the reference .*\('A'\)"),
    ([("Chr1", 2, "A", "T", "0/0", "0/0"), ("Chr9", 2, "A", "T", "0/0", "0/0")],
     r"calls.vcf.gz: Chr9:2: chromosome 'Chr9' is not in the reference"),
    ([("Chr2", 13, "A", "T", "1/1", "0/0")], r"calls.vcf.gz: Chr2:13: REF 'A' lies outside Chr2 of the reference .*\(12 bp\)"),
])
def test_a_records_problem_fails_the_extraction_with_read_variants_message(tmp_path, reference, records, message):
    vcf = write_vcf(tmp_path, records, samples=("IRIS1", "IRIS2"), contigs=("Chr1", "Chr10", "Chr2", "Chr9"))
    out = tmp_path / "store"
    got = error_of(extract_variants, vcf, reference, out)
    assert got == error_of(read_variants, vcf, "IRIS2", reference)
    assert re.search(message, got)
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("chunk_records", [8192, 1, 2])
def test_calls_that_cannot_be_applied_are_skipped_as_read_variants_skips_them(tmp_path, reference, chunk_records, caplog):
    vcf = write_vcf(tmp_path, GATK_RECORDS, samples=("S1", "S2", "S3", "S4"))
    with caplog.at_level("WARNING", logger="ntpipe.vcfstore"):
        store = extract_variants(vcf, reference, tmp_path / "store", chunk_records=chunk_records)  # across chunks too
    assert "2 samples have calls that cannot be applied, skipped" in caplog.text
    for sample in ("S1", "S2", "S3", "S4"):
        caplog.clear()
        with caplog.at_level("WARNING"):
            expected = read_variants(vcf, sample, reference)
            got = load_variants(store, sample, reference)
        assert_same(got, expected)
        warnings = [r.getMessage() for r in caplog.records]
        assert len(warnings) == (2 if sample in ("S2", "S4") else 0) and len(set(warnings)) <= 1


def test_gt_not_first_in_format_is_an_error_of_both_readers(tmp_path, reference):
    # the specification puts GT first; htslib then reads no genotype, cyvcf2 reads one: neither is trusted
    text = "\n".join([
        "##fileformat=VCFv4.2", "##contig=<ID=Chr1>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">',
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", "IRIS1"]),
        "Chr1\t2\t.\tA\tT\t.\tPASS\t.\tGT\t1/1", "Chr1\t5\t.\tC\tG\t.\tPASS\t.\tDP:GT\t7:1/1", ""])
    (tmp_path / "calls.vcf").write_text(text)
    vcf = pysam.tabix_index(str(tmp_path / "calls.vcf"), preset="vcf", force=True)
    got = error_of(extract_variants, vcf, reference, tmp_path / "store")
    assert got == error_of(read_variants, vcf, "IRIS1", reference)
    assert re.search(r"calls.vcf.gz: Chr1:5: FORMAT DP:GT holds GT, but not first; .*rewrite it with GT first", got)


def test_a_store_of_another_version_is_extracted_again(tmp_path, reference):
    """A store written under another rule of which calls apply (version 2: calls not trimmed) is refused,
    not read as if current; the workflow's extract rule has the version among its params, so it reruns."""
    import json

    from ntpipe import vcfstore

    store = extract_variants(write_vcf(tmp_path, RECORDS, samples=SAMPLES), reference, tmp_path / "store")
    meta = json.loads((store / "meta.json").read_text())
    (store / "meta.json").write_text(json.dumps({**meta, "version": 2}))
    with pytest.raises(ValueError, match=f"version 2; this ntpipe reads version {vcfstore.VERSION}: extract the VCF again"):
        load_variants(store, "IRIS1", reference)
    rule = (Path(__file__).parents[1] / "workflow" / "rules" / "variants.smk").read_text()
    assert "store_version=vcfstore.VERSION" in rule


def test_a_resolved_base_where_the_reference_has_n_or_an_iupac_code_matches(tmp_path):
    """Callers write a resolved REF where the reference holds N or an IUPAC code (R: A or G); elsewhere a
    differing REF still stops the extraction and the reader."""
    reference = write_fasta(tmp_path / "ref.fa", {"Chr1": "ACGTRACGTNACGT"})
    fine = write_vcf(tmp_path, [("Chr1", 5, "A", "T", "1/1"), ("Chr1", 10, "GA", "G", "1/1")], contigs=("Chr1",))
    store = extract_variants(fine, reference, tmp_path / "store")
    assert_same(load_variants(store, None, reference), read_variants(fine, None, reference))
    assert read_variants(fine, None, reference)["Chr1"].alt == ["T", "G"]
    wrong = write_vcf(tmp_path, [("Chr1", 4, "A", "T", "1/1")], contigs=("Chr1",), name="wrong.vcf")
    for read in (lambda: extract_variants(wrong, reference, tmp_path / "store2"), lambda: read_variants(wrong, None, reference)):
        with pytest.raises(ValueError, match="REF 'A' does not match"):
            read()


def test_telomere_breakends_are_skipped_as_breakends(tmp_path, reference, caplog):
    # the VCF specification's telomeres: REF N at POS 0 or length + 1, outside the chromosome
    records = [("Chr1", 0, "N", ".[Chr2:5[", "1/1", "0/0"), ("Chr1", 2, "A", "T", "1/1", "1/1"),
               ("Chr2", len(CHR2) + 1, "N", "N]Chr1:3]", "0/0", "1/1")]
    vcf = write_vcf(tmp_path, records, samples=("IRIS1", "IRIS2"))
    store = extract_variants(vcf, reference, tmp_path / "store")
    for sample in ("IRIS1", "IRIS2"):
        caplog.clear()
        with caplog.at_level("WARNING"):
            expected = read_variants(vcf, sample, reference)
            assert_same(load_variants(store, sample, reference), expected)
        assert list(expected["Chr1"].pos) == [1] and not len(expected["Chr2"])
        assert "1 symbolic or breakend allele(s)" in caplog.text
    # REF N outside the chromosome with a sequence ALT is no breakend: the REF check names it
    odd = write_vcf(tmp_path, [("Chr1", 0, "N", "A", "1/1", "0/0")], samples=("IRIS1", "IRIS2"), name="odd.vcf")
    got = error_of(extract_variants, odd, reference, tmp_path / "odd")
    assert got == error_of(read_variants, odd, "IRIS1", reference)
    assert re.search(r"odd.vcf.gz: Chr1:0: REF 'N' lies outside Chr1 of the reference", got)


def test_sample_choice_messages_are_read_variants(tmp_path, reference):
    vcf = write_vcf(tmp_path, RECORDS[:1], samples=SAMPLES)
    store = extract_variants(vcf, reference, tmp_path / "store")
    for sample in ("IRIS9", None):
        assert error_of(load_variants, store, sample, reference) == error_of(read_variants, vcf, sample, reference)
    assert "'IRIS9' is not in the VCF; available samples: IRIS1, IRIS2" in error_of(load_variants, store, "IRIS9", reference)


def test_unindexed_vcf_another_reference_and_a_changed_vcf_are_errors(tmp_path, reference):
    vcf = write_vcf(tmp_path, RECORDS[:2], samples=SAMPLES)
    plain = tmp_path / "plain.vcf"
    import pysam

    plain.write_bytes(pysam.BGZFile(vcf, "rb").read())
    assert "plain.vcf: extracting variants needs an index" in error_of(extract_variants, plain, reference, tmp_path / "s")
    store = extract_variants(vcf, reference, tmp_path / "store")
    other = write_fasta(tmp_path / "other.fa", {"Chr1": CHR1, "Chr2": CHR2})
    assert "whose sequences differ from" in error_of(load_variants, store, "IRIS1", other)
    stat = os.stat(vcf)
    os.utime(vcf, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # saved again, the same bytes (Snakemake: no change)
    assert_same(load_variants(store, "IRIS1", reference), read_variants(vcf, "IRIS1", reference))
    write_vcf(tmp_path, RECORDS[:3], samples=SAMPLES)  # other calls
    assert re.search(r"calls.vcf.gz has changed since it was extracted .*: extract it again \(in the workflow: snakemake"
                     r" .*store --force", error_of(load_variants, store, "IRIS1", reference))
    store = extract_variants(vcf, reference, tmp_path / "store2")
    flipped = bytearray(Path(vcf).read_bytes())  # other bytes of the same size: told apart by content
    flipped[-30] ^= 1
    Path(vcf).write_bytes(bytes(flipped))
    assert "has changed since it was extracted" in error_of(load_variants, store, "IRIS1", reference)


def test_a_killed_extraction_leaves_nothing_that_loads(tmp_path, reference):
    vcf = write_vcf(tmp_path, RECORDS, samples=SAMPLES)
    out = tmp_path / "store"
    # the process dies (SIGKILL) right after writing its first chromosome
    code = textwrap.dedent(f"""
        import os, signal
        from ntpipe import vcfstore
        finish = vcfstore._Chromosome.finish
        def finish_and_die(self):
            finish(self)
            os.kill(os.getpid(), signal.SIGKILL)
        vcfstore._Chromosome.finish = finish_and_die
        vcfstore.extract_variants({str(vcf)!r}, {str(reference)!r}, {str(out)!r})
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == -signal.SIGKILL, run.stderr
    (partial,) = tmp_path.glob("store.*.tmp")
    assert any(partial.iterdir()) and not out.exists()
    for path in (out, partial):
        assert "not a complete variants store (no meta.json)" in error_of(load_variants, path, "IRIS1", reference)
    store = extract_variants(vcf, reference, out)  # a rerun makes it whole
    assert_same(load_variants(store, "IRIS1", reference), read_variants(vcf, "IRIS1", reference))


def test_store_names_are_file_names_unique_per_vcf_and_stable():
    names = store_names(["a/panel.vcf.gz", "b/panel.vcf.gz", "c/3K rice.bcf", "a/panel.vcf.gz"])
    assert names["c/3K rice.bcf"].startswith("3K_rice-")
    assert len(set(names.values())) == len(names) == 3
    assert names["a/panel.vcf.gz"].startswith("panel-") and names["a/panel.vcf.gz"] != names["b/panel.vcf.gz"]
    # a VCF keeps its name whatever else the sheets name: a second panel.vcf.gz re-extracts nothing
    assert store_names(["a/panel.vcf.gz"]) == {"a/panel.vcf.gz": names["a/panel.vcf.gz"]}
    assert store_names(["./a//panel.vcf.gz"])["./a//panel.vcf.gz"] == names["a/panel.vcf.gz"]


def test_a_store_of_the_file_name_alone_keeps_its_name_for_its_own_vcf(tmp_path):
    """Stores an earlier version named by the file name alone keep it (an upgrade re-extracts nothing),
    for the VCF their meta.json names only."""
    (tmp_path / "panel").mkdir()
    (tmp_path / "panel" / "meta.json").write_text(json.dumps({"format": "ntpipe variants store", "version": VERSION,
                                                              "vcf": "./a/panel.vcf.gz"}))
    names = store_names(["a/panel.vcf.gz", "b/panel.vcf.gz"], stores=tmp_path)
    assert names["a/panel.vcf.gz"] == "panel" and names["b/panel.vcf.gz"] == store_names(["b/panel.vcf.gz"])["b/panel.vcf.gz"]
    (tmp_path / "panel" / "meta.json").write_text("{half a file")
    assert store_names(["a/panel.vcf.gz"], stores=tmp_path)["a/panel.vcf.gz"].startswith("panel-")


def test_predict_genome_from_the_store_equals_from_the_vcf(tmp_path):
    from conftest import tiny_model

    from ntpipe.predict import predict_genome

    rng = np.random.default_rng(3)
    chroms = {"Chr1": "".join(rng.choice(list("ACGT"), 900)), "Chr2": "".join(rng.choice(list("ACGT"), 400))}
    reference = write_fasta(tmp_path / "ref.fa", chroms)
    records = []
    for chrom, seq in chroms.items():
        for p in range(20, len(seq) - 20, 37):
            alt = "ACGT"[("ACGT".index(seq[p]) + 1) % 4] if p % 3 else seq[p] + "TTA"
            records.append((chrom, p + 1, seq[p], alt, "1/1", "0/1", "0/0"))
        records.append((chrom, len(seq) - 5, seq[-6:-3], seq[-6], "1/1", "0/0", "1/1"))
    vcf = write_vcf(tmp_path, records, samples=("V1", "V2", "V3"), contigs=tuple(chroms))
    store = extract_variants(vcf, reference, tmp_path / "store")
    model, _ = tiny_model(tmp_path, size=200, stride=50)
    for sample in ("V1", "V2"):
        a = predict_genome([model], reference, tmp_path / "from_vcf" / sample, vcf=vcf, sample=sample, device="cpu")
        b = predict_genome([model], reference, tmp_path / "from_store" / sample, store=store, sample=sample, device="cpu")
        for chrom in chroms:
            x, y = (read_bins(p["H3K4me3"], chrom, 50) for p in (a, b))
            assert np.isfinite(x).all()
            np.testing.assert_array_equal(x, y)
    ref = predict_genome([model], reference, tmp_path / "ref", device="cpu")
    assert not np.array_equal(read_bins(ref["H3K4me3"], "Chr1", 50), read_bins(b["H3K4me3"], "Chr1", 50))


@pytest.mark.parametrize("chunk_records", [8192, 7])
def test_random_overlapping_calls_load_as_read_variants_reads_them(tmp_path, chunk_records, caplog):
    rng = np.random.default_rng(3)
    chrom = "".join(rng.choice(list("ACGT"), 3000))
    reference = write_fasta(tmp_path / "ref.fa", {"Chr1": chrom})
    samples = [f"S{i}" for i in range(12)]
    records, pos = [], 1
    while pos < 2900:
        rlen = int(rng.choice([1, 1, 1, 2, 4, 7]))
        ref = chrom[pos - 1: pos - 1 + rlen]
        alts = [ref[0] + "A" if rng.random() < 0.2 else "ACGT"[(("ACGT".index(ref[0])) + 1) % 4], ref[0]]
        if rlen > 1 and rng.random() < 0.4:  # padded, as GATK writes a SNP beside a deletion allele: trimmed to its change
            k = int(rng.integers(rlen))
            alts[0] = ref[:k] + "ACGT"[("ACGT".index(ref[k]) + 1) % 4] + ref[k + 1:]
        alts[1] = str(rng.choice(["*", "<DEL>", alts[1]]))
        if alts[1] == alts[0]:
            alts.pop()
        gts = [str(rng.choice(["0/0", "0/1", "1/1", "./.", f"1/{len(alts)}", f"{len(alts)}/{len(alts)}"])) for _ in samples]
        records.append(("Chr1", pos, ref, ",".join(alts), *gts))
        pos += int(rng.choice([0, 1, 2, 3, 5]))
    vcf = write_vcf(tmp_path, records, samples=tuple(samples), contigs=("Chr1",))
    store = extract_variants(vcf, reference, tmp_path / "store", chunk_records=chunk_records)
    skipped = 0
    for sample in samples:
        caplog.clear()
        with caplog.at_level("WARNING"):
            expected = read_variants(vcf, sample, reference)
            assert_same(load_variants(store, sample, reference), expected)
        apply_variants(encode(chrom), expected["Chr1"])  # trimmed calls, none inside another
        (read_warning, load_warning) = [r.getMessage() for r in caplog.records]
        assert read_warning == load_warning
        skipped += sum(r[samples.index(sample) + 4] != "0/0" for r in records) - len(expected["Chr1"])
    assert skipped > 100  # many calls inside others, symbolic or *
