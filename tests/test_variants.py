"""Tests for ntpipe.variants: reading VCF calls, consensus and variety windows."""

import gzip

import numpy as np
import pyfaidx
import pysam
import pytest

from ntpipe.encoding import decode, encode, pad_for_bins, sliding_windows
from ntpipe.genome import open_fasta, write_fasta
from ntpipe.variants import Variants, apply_variants, read_variants, variety_windows, write_consensus

# 0-3 A, 4-7 C, 8-11 G, 12-15 T, 16.. ACGTACGT
CHR1 = "AAAACCCCGGGGTTTTACGTACGT"
CHR2 = "ACGTTGCAACGT"
SIZE, STRIDE = 8, 4  # left = 2, centre of bin i = 4*i + 2


@pytest.fixture
def reference(tmp_path):
    # Chr10 before Chr2: fai order, not name order
    return write_fasta(tmp_path / "ref.fa", {"Chr1": CHR1, "Chr10": "GGGGCCCC", "Chr2": CHR2})


def write_vcf(tmp_path, records, samples=("IRIS1",), contigs=("Chr1", "Chr10", "Chr2"), name="calls.vcf"):
    """Plain VCF text -> bgzip + tabix with pysam; records are (chrom, pos1, ref, alt, gt...)."""
    lines = ["##fileformat=VCFv4.2"]
    lines += [f"##contig=<ID={c}>" for c in contigs]
    lines.append('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]))
    for chrom, pos, ref, alt, *gts in records:
        lines.append("\t".join([chrom, str(pos), ".", ref, alt, ".", "PASS", ".", "GT", *gts]))
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return pysam.tabix_index(str(path), preset="vcf", force=True)


def consensus_of(tmp_path, reference, records, sample=None, **kw):
    vcf = write_vcf(tmp_path, records, **kw)
    out = write_consensus(reference, read_variants(vcf, sample, reference), tmp_path / "variety.fa")
    fa = open_fasta(out)
    return {name: str(fa[name][:]) for name in fa.keys()}


def test_snp_insertion_deletion_consensus(tmp_path, reference):
    records = [
        ("Chr1", 2, "A", "T", "1/1"),  # SNP
        ("Chr1", 9, "G", "GAA", "1/1"),  # insertion after 0-based 8
        ("Chr1", 12, "GTTT", "G", "1/1"),  # deletion of 0-based 12..14
        ("Chr2", 5, "T", "C", "1/1"),
    ]
    seqs = consensus_of(tmp_path, reference, records)
    assert list(seqs) == ["Chr1", "Chr10", "Chr2"]  # every sequence, fai order
    assert seqs["Chr1"] == "ATAACCCCGAAGGGTACGTACGT"
    assert seqs["Chr10"] == "GGGGCCCC"
    assert seqs["Chr2"] == "ACGTCGCAACGT"
    assert (tmp_path / "variety.fa.fai").exists()


def test_multi_sample_picks_sample_and_missing_keeps_reference(tmp_path, reference):
    records = [
        ("Chr1", 2, "A", "T", "1/1", "./."),
        ("Chr1", 5, "C", "G", "0/0", "1/1"),
        ("Chr1", 6, "C", "T", ".", "1|1"),
    ]
    vcf = write_vcf(tmp_path, records, samples=("IRIS1", "IRIS2"))
    v1 = read_variants(vcf, "IRIS1", reference)
    v2 = read_variants(vcf, "IRIS2", reference)
    assert list(v1) == ["Chr1", "Chr10", "Chr2"]
    assert v1["Chr1"].pos.tolist() == [1] and v1["Chr1"].alt == ["T"]
    assert v2["Chr1"].pos.tolist() == [4, 5] and v2["Chr1"].alt == ["G", "T"]
    assert len(v1["Chr2"]) == 0
    with pytest.raises(ValueError, match="has 2 samples"):
        read_variants(vcf, None, reference)


def test_het_and_multiallelic_rule(tmp_path, reference):
    records = [
        ("Chr1", 1, "A", "G", "0/1"),  # het: ALT applied
        ("Chr1", 5, "C", "G,T", "1/2"),  # two ALTs: the lower index
        ("Chr1", 9, "G", "A,T", "0/2"),  # het on the 2nd ALT: that ALT
        ("Chr1", 13, "T", "A,C", "2/2"),  # hom on the 2nd ALT
        ("Chr1", 17, "A", "C", "./1"),  # half-missing: the called allele
        ("Chr1", 18, "C", "G", "0/0"),  # hom ref: kept
    ]
    seqs = consensus_of(tmp_path, reference, records, sample="IRIS1")
    assert seqs["Chr1"] == "GAAAGCCCTGGGCTTTCCGTACGT"


def test_apply_variants_mapping():
    ref = encode(CHR1)
    v = Variants([8, 11], ["G", "GTTT"], ["GAA", "G"])
    var, ref_to_var = apply_variants(ref, v)
    assert decode(var) == "AAAACCCCGAAGGGTACGTACGT"
    assert len(ref_to_var) == len(CHR1) + 1 and ref_to_var[-1] == len(var)
    # before the insertion unchanged, after it +2; deleted bases 12..14 map to where the deletion is
    assert ref_to_var[[0, 8, 9, 11, 12, 13, 14, 15, 23]].tolist() == [0, 8, 11, 13, 14, 14, 14, 14, 22]
    assert np.all(np.diff(ref_to_var) >= 0)
    with pytest.raises(ValueError, match="overlapping"):
        apply_variants(ref, Variants([8, 8], ["G", "G"], ["A", "C"]))


def test_padded_alleles_apply_as_their_trimmed_form():
    """A REF and allele sharing bases at their ends (a multi-allelic record's padding) is the change they make,
    as bcftools norm writes it: the same consensus and the same map of every reference base."""
    ref = encode(CHR1)
    for padded, trimmed in [
        (Variants([11], ["GTTTA"], ["GA"]), Variants([11], ["GTTT"], ["G"])),  # deletion padded at its end
        (Variants([10], ["GGTTT"], ["GCTTT"]), Variants([11], ["G"], ["C"])),  # SNP padded on both sides
        (Variants([16, 20], ["ACG", "ACGT"], ["ATTCG", "AC"]), Variants([16, 21], ["A", "CGT"], ["ATT", "C"])),
    ]:
        var, ref_to_var = apply_variants(ref, padded)
        expected_var, expected_map = apply_variants(ref, trimmed)
        assert decode(var) == decode(expected_var)
        np.testing.assert_array_equal(ref_to_var, expected_map)
    # at a chromosome's first base an indel is anchored at its end: that base keeps its place in the allele
    var, ref_to_var = apply_variants(encode(CHR2), Variants([0], ["AC"], ["C"]))
    assert decode(var) == CHR2[1:] and ref_to_var[:3].tolist() == [0, 0, 1]
    var, ref_to_var = apply_variants(encode(CHR2), Variants([0], ["A"], ["TTA"]))
    assert decode(var) == "TT" + CHR2 and ref_to_var[:2].tolist() == [2, 3]


def test_a_padded_call_does_not_hide_the_next_records(tmp_path, reference):
    """GATK's joint calls give a deletion and a SNP one long REF: the sample carrying the SNP keeps its
    calls in the records the long REF spans (before, they were skipped as inside an earlier call)."""
    records = [
        ("Chr1", 12, "GTTTT", "G,CTTTT", "2/2", "1/1"),  # deletion of 12..15 or G>C at 0-based 11
        ("Chr1", 14, "T", "A,*", "1/1", "2/2"),  # inside the deletion, not inside the SNP
        ("Chr1", 18, "CGTA", "CA", "1/1", "0/0"),  # deletion of GT, padded with the A after it
    ]
    vcf = write_vcf(tmp_path, records, samples=("S1", "S2"))
    s1, s2 = (read_variants(vcf, s, reference)["Chr1"] for s in ("S1", "S2"))
    assert list(zip(s1.pos.tolist(), s1.ref, s1.alt)) == [(11, "G", "C"), (13, "T", "A"), (17, "CGT", "C")]
    assert list(zip(s2.pos.tolist(), s2.ref, s2.alt)) == [(11, "GTTTT", "G")]
    seqs = consensus_of(tmp_path, reference, records, sample="S1", samples=("S1", "S2"))
    assert seqs["Chr1"] == CHR1[:11] + "CT" + "A" + CHR1[14:18] + CHR1[20:]


def test_apply_variants_matches_string_edit():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 4, 300).astype(np.uint8)
    seq = decode(ref)
    pos = np.sort(rng.choice(np.arange(0, 290, 6), 30, replace=False))
    refs, alts = [], []
    for p in pos:
        r = seq[p : p + int(rng.integers(1, 5))]
        refs.append(r)
        alts.append(r[0] + decode(rng.integers(0, 4, int(rng.integers(0, 4)))) if rng.random() < 0.7 else "ACGT"[rng.integers(4)])
    expected, last = [], 0
    for p, r, a in zip(pos, refs, alts):
        expected += [seq[last:p], a]
        last = p + len(r)
    expected.append(seq[last:])
    var, ref_to_var = apply_variants(ref, Variants(pos, refs, alts))
    assert decode(var) == "".join(expected)
    assert ref_to_var[-1] == len(var)


def ref_windows(seq):
    return sliding_windows(pad_for_bins(encode(seq), SIZE, STRIDE), SIZE, STRIDE)


def windows_as_text(padded, starts):
    return [decode(padded[s : s + SIZE]) for s in starts]


def test_variety_windows_no_variants_equals_reference():
    ref = encode(CHR1)
    padded, starts = variety_windows(ref, Variants(), SIZE, STRIDE)
    np.testing.assert_array_equal(padded, pad_for_bins(ref, SIZE, STRIDE))
    np.testing.assert_array_equal(starts, np.arange(6) * STRIDE)
    assert starts.dtype == np.int64


def test_variety_windows_insertion():
    # consensus AAAACCCCG[AA]GGGTTTTACGTACGT; centres 2, 6, 10, 14, 18, 22 map to 2, 6, 12, 16, 20, 24
    padded, starts = variety_windows(encode(CHR1), Variants([8], ["G"], ["GAA"]), SIZE, STRIDE)
    got = windows_as_text(padded, starts)
    assert got == ["NNAAAACC", "AACCCCGA", "GAAGGGTT", "GGTTTTAC", "TTACGTAC", "GTACGTNN"]
    ref = ref_windows(CHR1)
    for i in (0, 4, 5):  # no variant in these reference windows: exactly the reference window
        assert got[i] == decode(ref[i])


def test_variety_windows_deletion():
    # consensus AAAACCCCGGGG[TTT deleted]TACGTACGT; centre 14 sits in the deletion and maps to 12
    padded, starts = variety_windows(encode(CHR1), Variants([11], ["GTTT"], ["G"]), SIZE, STRIDE)
    got = windows_as_text(padded, starts)
    assert got == ["NNAAAACC", "AACCCCGG", "CCGGGGTA", "GGGGTACG", "GTACGTAC", "GTACGTNN"]
    ref = ref_windows(CHR1)
    for i in (0, 1, 5):
        assert got[i] == decode(ref[i])


def test_variety_windows_far_bins_equal_reference_random():
    rng = np.random.default_rng(1)
    size, stride, length = 50, 10, 1003
    ref = rng.integers(0, 4, length).astype(np.uint8)
    seq = decode(ref)
    pos = np.array([100, 101, 400, 700, 1000])
    refs = [seq[100], seq[101:104], seq[400], seq[700:720], seq[1000]]
    alts = [refs[0] + "ACGTACGTAC", refs[1][0], "ACGT"[(ref[400] + 1) % 4], refs[3][0], refs[4] + "TT"]
    padded, starts = variety_windows(ref, Variants(pos, refs, alts), size, stride)
    expected = sliding_windows(pad_for_bins(ref, size, stride), size, stride)
    assert len(starts) == len(expected) == 101
    left = (size - stride) // 2
    spans = [(p, p + len(r)) for p, r in zip(pos, refs)]
    clean = 0
    for i, s in enumerate(starts):
        w0 = i * stride - left
        if not any(a < w0 + size and w0 < b for a, b in spans):
            np.testing.assert_array_equal(padded[s : s + size], expected[i])
            clean += 1
    assert clean > 50
    assert padded[starts[-1] + size - 1] == 4  # last window runs past the end: N


def test_errors_are_raised_before_any_output(tmp_path, reference):
    out = tmp_path / "variety.fa"
    cases = [
        ([("Chr1", 2, "C", "T", "1/1")], {}, "REF 'C' does not match .*'A'"),
        ([("Chr9", 2, "A", "T", "1/1")], {"contigs": ("Chr1", "Chr9")}, "Chr9.*not in the reference"),
    ]
    for records, kw, message in cases:
        vcf = write_vcf(tmp_path, records, **kw)
        with pytest.raises(ValueError, match=message) as err:
            write_consensus(reference, read_variants(vcf, "IRIS1", reference), out)
        assert "calls.vcf.gz" in str(err.value)
        assert not out.exists() and not (tmp_path / "variety.fa.tmp").exists()
    vcf = write_vcf(tmp_path, [("Chr1", 2, "A", "T", "1/1")], samples=("IRIS1", "IRIS2"))
    with pytest.raises(ValueError, match="'IRIS9' is not in the VCF; available samples: IRIS1, IRIS2"):
        read_variants(vcf, "IRIS9", reference)
    with pytest.raises(ValueError, match="not found"):
        read_variants(tmp_path / "missing.vcf.gz", "IRIS1", reference)
    plain_gzip = tmp_path / "gzip.vcf.gz"  # gzip, not bgzip: htslib cannot seek in it (the same words as the input check)
    plain_gzip.write_bytes(gzip.compress(pysam.BGZFile(str(vcf), "rb").read()))
    with pytest.raises(ValueError, match=r"gzip.vcf.gz: compressed with gzip, not bgzip; expected a bgzipped VCF"):
        read_variants(plain_gzip, "IRIS1", reference)
    assert not out.exists()


# GATK's joint calls: a deletion over Chr1:13-15, a spanning-deletion (*) record inside it, a SNP after it
GATK_RECORDS = [
    ("Chr1", 2, "A", "<DEL>", "0/0", "0/0", "0/0", "1/1"),
    ("Chr1", 12, "GTTT", "G", "1/1", "0/1", "0/1", "1/1"),
    ("Chr1", 14, "T", "A,*", "2/2", "1/2", "0/2", "1/1"),
    ("Chr1", 16, "T", "C", "1/1", "1/1", "0/0", "0/0"),
]


def test_calls_that_cannot_be_applied_are_skipped_with_a_warning(tmp_path, reference, caplog):
    vcf = write_vcf(tmp_path, GATK_RECORDS, samples=("S1", "S2", "S3", "S4"))
    with caplog.at_level("WARNING", logger="ntpipe.variants"):
        got = {s: read_variants(vcf, s, reference)["Chr1"] for s in ("S1", "S2", "S3", "S4")}
    assert [(list(v.pos), v.alt) for v in got.values()] == [
        ([11, 15], ["G", "C"]),  # the deletion and the SNP; * keeps the reference
        ([11, 15], ["G", "C"]),  # the het A inside the deletion: skipped
        ([11], ["G"]),
        ([11], ["G"]),  # <DEL> and the A inside the deletion: skipped
    ]
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        f"{vcf}, sample S2: not applied (its track keeps the reference there): 0 symbolic or breakend allele(s), 1 call(s)"
        f" starting before the end of an earlier one; the first: {vcf}: Chr1:14: call T>A of sample 'S2' starts before the end of an"
        " earlier call of that sample (which reaches Chr1:15)",
        f"{vcf}, sample S4: not applied (its track keeps the reference there): 1 symbolic or breakend allele(s), 1 call(s)"
        f" starting before the end of an earlier one; the first: {vcf}: Chr1:2: sample 'S4' carries the symbolic or breakend allele '<DEL>',"
        " which cannot be applied",
    ]
    out = tmp_path / "S4.fa"
    write_consensus(reference, read_variants(vcf, "S4", reference), out)
    assert str(pyfaidx.Fasta(str(out))["Chr1"]) == CHR1[:12] + CHR1[15:]


def test_ref_calls_with_symbolic_alt_are_fine_and_index_needed_for_chroms(tmp_path, reference):
    vcf = write_vcf(tmp_path, [("Chr1", 2, "A", "<DEL>", "0/0"), ("Chr2", 5, "T", "C", "1/1")])
    variants = read_variants(vcf, "IRIS1", reference, chroms=["Chr2"])
    assert list(variants) == ["Chr2"] and variants["Chr2"].alt == ["C"]
    plain = tmp_path / "plain.vcf"
    plain.write_bytes(pysam.BGZFile(vcf, "rb").read())
    assert len(read_variants(plain, None, reference)["Chr2"]) == 1  # streaming needs no index
    with pytest.raises(ValueError, match="needs an index"):
        read_variants(plain, None, reference, chroms=["Chr2"])


def test_chromosome_aliases_match_another_naming_and_log_it(tmp_path, reference, caplog):
    records = [("1", 2, "A", "T", "1/1"), ("2", 5, "T", "C", "1/1")]
    vcf = write_vcf(tmp_path, records, contigs=("1", "10", "2"))
    with pytest.raises(ValueError, match=r"chromosome '1' is not in the reference"):
        read_variants(vcf, None, reference)
    with caplog.at_level("INFO", logger="ntpipe.variants"):
        renamed = read_variants(vcf, None, reference, aliases=True)
    assert "1 -> Chr1, 10 -> Chr10, 2 -> Chr2" in caplog.text
    expected = read_variants(write_vcf(tmp_path, [("Chr1", 2, "A", "T", "1/1"), ("Chr2", 5, "T", "C", "1/1")],
                                       name="same.vcf"), None, reference)
    assert list(renamed) == list(expected) == ["Chr1", "Chr10", "Chr2"]
    for chrom in expected:
        assert list(renamed[chrom].pos) == list(expected[chrom].pos) and renamed[chrom].alt == expected[chrom].alt
    # through the index (chroms=...), and a record on a chromosome the header does not declare
    assert read_variants(vcf, None, reference, chroms=["Chr2"], aliases=True)["Chr2"].alt == ["C"]
    undeclared = write_vcf(tmp_path, records, contigs=("10",), name="undeclared.vcf")
    assert read_variants(undeclared, None, reference, aliases=True)["Chr1"].alt == ["T"]
    out = write_consensus(reference, read_variants(vcf, None, reference, aliases=True), tmp_path / "variety.fa")
    assert str(open_fasta(out)["Chr1"][:]) == "ATAACCCCGGGGTTTTACGTACGT"


def test_chromosome_aliases_ambiguous_match_is_an_error(tmp_path):
    reference = write_fasta(tmp_path / "ref.fa", {"Chr1": CHR1, "chr01": CHR2})
    vcf = write_vcf(tmp_path, [("1", 2, "A", "T", "1/1")], contigs=("1",))
    with pytest.raises(ValueError, match=r"calls.vcf.gz: chromosome '1' matches several names of the genome: \['Chr1', 'chr01'\]"):
        read_variants(vcf, None, reference, aliases=True)
