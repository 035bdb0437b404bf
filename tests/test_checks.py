"""Input checks: unit tests on tiny files (real pyfaidx and pysam), and the
workflow stopping before any job on a broken input of the test-scale panel."""

import gzip
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pysam
import pytest
import yaml

from ntpipe import checks
from ntpipe.genome import write_fasta
from ntpipe.peaks import read_peaks
from ntpipe.sheets import load_training_sheet, load_varieties_sheet

REPO = Path(__file__).resolve().parent.parent
SIZES = {"Chr1": 1000, "Chr2": 800, "Chr3": 600}


@pytest.fixture
def genome(tmp_path):
    return write_fasta(tmp_path / "g.fa", {name: "ACGT" * (n // 4) for name, n in SIZES.items()})


def write_bam(path, refs, index=True, reads=1, order="coordinate", comments=0):
    """A BAM of ``reads`` 50 bp reads at the start of its first reference (none: the header alone), and
    ``comments`` @CO header lines."""
    header = {"HD": {"VN": "1.6", "SO": order}, "SQ": [{"SN": n, "LN": ln} for n, ln in refs.items()],
              "CO": [f"comment {i} {'x' * 50}" for i in range(comments)]}
    with pysam.AlignmentFile(str(path), "wb", header=header) as bam:
        for i in range(reads):
            r = pysam.AlignedSegment(bam.header)
            r.query_name, r.reference_id, r.reference_start, r.cigarstring = f"r{i}", 0, i * 900 // max(reads, 1), "50M"
            r.query_sequence, r.mapping_quality = "A" * 50, 60
            bam.write(r)
    if index:
        pysam.index(str(path))
    return path


def write_vcf(path, samples, contigs, index=True, records=()):
    """A VCF declaring ``contigs`` ({name: length or None}), with an A>C call at each ``(contig, pos)`` of ``records``."""
    header = pysam.VariantHeader()
    for name, length in contigs.items():
        header.contigs.add(name, **({} if length is None else {"length": length}))
    header.formats.add("GT", 1, "String", "Genotype")
    for s in samples:
        header.add_sample(s)
    with pysam.VariantFile(str(path), "wz", header=header) as out:
        for contig, pos in records:
            out.write(out.new_record(contig=contig, start=pos - 1, alleles=("A", "C")))
    if index:
        pysam.tabix_index(str(path), preset="vcf", force=True, keep_original=True)
    return path


# --- unit tests ---------------------------------------------------------------------------------


def test_fasta_sizes_in_fai_order_and_empty_fasta_named(genome, tmp_path):
    assert checks.fasta_sizes(genome) == SIZES
    empty = tmp_path / "empty.fa"
    empty.write_text("")
    with pytest.raises(ValueError, match=r"empty.fa: no sequences found"):
        checks.fasta_sizes(empty)
    headless = tmp_path / "headless.fa"
    headless.write_text("ACGT\n")
    with pytest.raises(ValueError, match=r"headless.fa: no sequences found"):
        checks.fasta_sizes(headless)
    hollow = tmp_path / "hollow.fa"  # a record with no sequence would fail every variety's bigWig
    hollow.write_text(">Chr1\nACGT\n>Chr0\n>Chr2\nAC\n")
    with pytest.raises(ValueError, match=r"hollow.fa: sequence 'Chr0' is empty \(a '>' header with no sequence\)"):
        checks.fasta_sizes(hollow)
    protein = tmp_path / "protein.fa"  # a file of another kind named as a genome: stopped at start-up
    protein.write_text(">Chr1\nACGTNRYacgt\n>LOC_Os01g01010.1\nMEEPLQRS\n")
    with pytest.raises(ValueError, match=r"protein.fa, sequence 'LOC_Os01g01010.1': not a DNA sequence letter: 'E' at "
                                         r"position 2 .*is it a DNA FASTA\?"):
        checks.fasta_sizes(protein)
    short = write_fasta(tmp_path / "short.fa", {"Chr1": "ACGT" * 300, "scaffold_2": "acgtn", "scaffold_3": "A"})
    pysam.tabix_compress(str(short), str(tmp_path / "short.fa.gz"))  # bgzip: no slice past a record's end
    assert checks.fasta_sizes(tmp_path / "short.fa.gz") == {"Chr1": 1200, "scaffold_2": 5, "scaffold_3": 1}


def test_peaks_pass_and_fail_with_file_line_column_and_value(tmp_path):
    good = tmp_path / "p.narrowPeak.gz"
    with gzip.open(good, "wt") as fh:
        fh.write("track name=x\nChr1\t10\t100\tp1\nChr3\t500\t600\tp2\n")
    assert checks.check_peaks(good, SIZES, "g.fa") == {"notes": [], "chroms": ["Chr1", "Chr3"]}
    cases = {
        "chrC\t10\t100\nchr2\t5\t50\n": r"p.bed, line 1, column 1: chromosome 'chrC' is not in the genome g.fa \(its .fai names"
                                        r" Chr1, Chr2, Chr3\), nor is any other of the file's \(chrC, chr2\)",
        "Chr1\t10\tten\n": r"p.bed, line 1, columns 2-3: start '10' and end 'ten' must be integers",
        "Chr1\t100\t10\n": r"p.bed, line 1, columns 2-3: start 100 and end 10 are not a valid interval",
        "Chr1 10 100\n": r"p.bed, line 1: expected BED \(chrom<TAB>start<TAB>end...\), got 'Chr1 10 100'",
        "# nothing\n\n": r"p.bed: no peaks",
    }
    for text, message in cases.items():
        (tmp_path / "p.bed").write_text(text)
        with pytest.raises(ValueError, match=message):
            checks.check_peaks(tmp_path / "p.bed", SIZES, "g.fa")


def test_peaks_past_a_chromosome_end_or_off_the_genome_are_warnings(tmp_path):
    """MACS2 writes peaks past a chromosome's end, and calls the organelles an aligner's index holds."""
    (tmp_path / "p.bed").write_text("Chr1\t10\t100\nChrC\t5\t50\nChr2\t700\t900\nChrC\t60\t90\nChr2\t800\t850\n")
    notes = checks.check_peaks(tmp_path / "p.bed", SIZES, "g.fa")["notes"]
    assert len(notes) == 2
    assert re.search(r"p.bed: 2 of 5 peak\(s\) skipped, on chromosomes the genome g.fa lacks \(ChrC: 2; first at line 2\)", notes[0])
    assert re.search(r"p.bed: 2 peak\(s\) ran past a chromosome end, clipped to it \(the first, line 3: Chr2:700-900, Chr2 is"
                     r" 800 bp", notes[1])
    peaks = read_peaks(tmp_path / "p.bed", SIZES)
    assert {c: (s.tolist(), e.tolist()) for c, (s, e) in peaks.items()} == {"Chr1": ([10], [100]), "Chr2": ([700], [800])}


def test_bam_references_lengths_and_index(tmp_path):
    checks.check_bam(write_bam(tmp_path / "ok.bam", {"Chr1": 1000, "Chr3": 600}), SIZES, "g.fa")
    with pytest.raises(ValueError, match=r"chr1.bam, header line 3: reference 'chr1' is not in the genome g.fa"):
        checks.check_bam(write_bam(tmp_path / "chr1.bam", {"Chr2": 800, "chr1": 1000}), SIZES, "g.fa")
    with pytest.raises(ValueError, match=r"long.bam, header line 2: reference 'Chr1' is 1001 bp long; in the genome g.fa it is 1000 bp"):
        checks.check_bam(write_bam(tmp_path / "long.bam", {"Chr1": 1001}), SIZES, "g.fa")
    with pytest.raises(ValueError, match=r"noindex.bam: BAM has no index; expected .*noindex.bam.bai"):
        checks.check_bam(write_bam(tmp_path / "noindex.bam", {"Chr1": 1000}, index=False), SIZES, "g.fa")


def test_a_bam_without_a_read_unsorted_or_with_another_files_index_fails_at_start_up(tmp_path):
    with pytest.raises(ValueError, match=r"empty.bam: no mapped read on the genome's chromosomes \(its index counts none\)"):
        checks.check_bam(write_bam(tmp_path / "empty.bam", {"Chr1": 1000}, reads=0), SIZES, "g.fa")
    with pytest.raises(ValueError, match=r"organelle.bam: no mapped read on the genome's chromosomes"):
        checks.check_bam(write_bam(tmp_path / "organelle.bam", {"ChrC": 134_525, "Chr1": 1000}), SIZES, "g.fa")
    # reads on Chr1 alone (a BAM filtered to part of the genome): the others named, left out of training
    notes = checks.check_bam(write_bam(tmp_path / "part.bam", {"Chr1": 1000, "Chr2": 800, "Chr3": 600}, reads=100), SIZES, "g.fa")
    assert notes == [f"{tmp_path / 'part.bam'}: no mapped read on Chr2, Chr3 (its index): a ChIP file's chromosomes"
                     " without reads are left out of its mark's training, a control's get the ChIP's genome-wide rate"]
    for order, said in (("unsorted", "its header says SO:unsorted"), ("unknown", "its header does not say how")):
        with pytest.raises(ValueError, match=rf"{order}.bam: {said}.*\(samtools sort -o sorted.bam .*{order}.bam && samtools index"):
            checks.check_bam(write_bam(tmp_path / f"{order}.bam", {"Chr1": 1000}, index=False, order=order), SIZES, "g.fa")
    # a BAM given the index of another file (copied beside it, newer): an error naming it, not htslib's crash on close
    other = write_bam(tmp_path / "other.bam", {"Chr1": 1000}, reads=2000)
    shuffled = write_bam(tmp_path / "shuffled.bam", {"Chr1": 1000}, index=False, reads=2000, comments=2000)
    shutil.copy(f"{other}.bai", f"{shuffled}.bai")
    with pytest.raises(ValueError, match=r"shuffled.bam: cannot read its records: .*an index made for another file\?"):
        checks.check_bam(shuffled, SIZES, "g.fa")


def test_bam_contigs_the_genome_lacks_are_skipped_with_a_warning(tmp_path):
    # an aligner's index holds the organelles; the genome FASTA is often nuclear only
    notes = checks.check_bam(write_bam(tmp_path / "organelles.bam", {"Chr1": 1000, "ChrC": 134_525, "ChrM": 490_520}), SIZES, "g.fa")
    assert len(notes) == 1
    assert "organelles.bam: references not in the genome g.fa skipped, their reads not counted (0 mapped reads): ChrC, ChrM" in notes[0]
    assert checks.check_bam(write_bam(tmp_path / "nuclear.bam", {"Chr1": 1000}), SIZES, "g.fa") == []
    with pytest.raises(ValueError, match=r"only.bam: none of its references \(ChrC, ChrM\) is in the genome g.fa \(its .fai names Chr1, Chr2, Chr3\)"):
        checks.check_bam(write_bam(tmp_path / "only.bam", {"ChrC": 134_525, "ChrM": 490_520}), SIZES, "g.fa")
    with pytest.raises(ValueError, match=r"long.bam, header line 3: reference 'Chr1' is 1001 bp long"):
        checks.check_bam(write_bam(tmp_path / "long.bam", {"ChrC": 134_525, "Chr1": 1001}), SIZES, "g.fa")


def test_vcf_samples_and_contigs(tmp_path):
    vcf = write_vcf(tmp_path / "v.vcf.gz", ["A", "B"], SIZES)
    checks.check_vcf(vcf, SIZES, "ref.fa", [("v.tsv, line 2", "A"), ("v.tsv, line 3", "B")])
    with pytest.raises(ValueError, match=r"v.tsv, line 3, column 'sample': 'C' is not a sample of .*v.vcf.gz \(its header has 2: A, B\)"):
        checks.check_vcf(vcf, SIZES, "ref.fa", [("v.tsv, line 2", "A"), ("v.tsv, line 3", "C")])
    with pytest.raises(ValueError, match=r"v.tsv, line 2, column 'sample': empty, but .*v.vcf.gz has 2 samples \(A, B\)"):
        checks.check_vcf(vcf, SIZES, "ref.fa", [("v.tsv, line 2", "")])
    checks.check_vcf(write_vcf(tmp_path / "one.vcf.gz", ["A"], SIZES), SIZES, "ref.fa", [("v.tsv, line 2", "")])
    # a contig the reference lacks: harmless while it has no records (ChrC, ChrM beside a nuclear reference)
    declared = write_vcf(tmp_path / "declared.vcf.gz", ["A"], {**SIZES, "ChrUn": 50}, records=[("Chr1", 5)])
    checks.check_vcf(declared, SIZES, "ref.fa", [("v.tsv, line 2", "A")])
    extra = write_vcf(tmp_path / "extra.vcf.gz", ["A"], {**SIZES, "ChrUn": 50}, records=[("ChrUn", 5)])
    with pytest.raises(ValueError, match=r"extra.vcf.gz, header line 6: contig 'ChrUn' is not in the reference ref.fa"):
        checks.check_vcf(extra, SIZES, "ref.fa", [("v.tsv, line 2", "A")])
    no_lengths = write_vcf(tmp_path / "nolen.vcf.gz", ["A"], {"Chr1": None, "Chr3": None})  # ##contig=<ID=Chr1>
    checks.check_vcf(no_lengths, SIZES, "ref.fa", [("v.tsv, line 2", "A")])
    nolen2 = write_vcf(tmp_path / "nolen2.vcf.gz", ["A"], {"Chr1": None, "Chr4": None}, records=[("Chr4", 2)])
    with pytest.raises(ValueError, match=r"nolen2.vcf.gz, header line 4: contig 'Chr4' is not in the reference ref.fa"):
        checks.check_vcf(nolen2, SIZES, "ref.fa", [])
    with pytest.raises(ValueError, match=r"noindex.vcf.gz: has no index; expected a bgzipped VCF with a .tbi or .csi index"):
        checks.check_vcf(write_vcf(tmp_path / "noindex.vcf.gz", ["A"], SIZES, index=False), SIZES, "ref.fa", [])
    plain_gzip = tmp_path / "gzip.vcf.gz"  # gzip, not bgzip: htslib cannot seek in it
    plain_gzip.write_bytes(gzip.compress(pysam.BGZFile(str(vcf), "rb").read()))
    with pytest.raises(ValueError, match=r"gzip.vcf.gz: compressed with gzip, not bgzip; expected a bgzipped VCF"):
        checks.check_vcf(plain_gzip, SIZES, "ref.fa", [("v.tsv, line 2", "A")])
    other = write_vcf(tmp_path / "other.vcf.gz", ["A"], {**SIZES, "Chr2": 801})
    with pytest.raises(ValueError, match=r"other.vcf.gz, header line 4: contig 'Chr2' is 801 bp long; in the reference ref.fa 'Chr2' is 800 bp"):
        checks.check_vcf(other, SIZES, "ref.fa", [("v.tsv, line 2", "A")])


def test_an_index_older_than_its_file_is_an_error(tmp_path):
    vcf = write_vcf(tmp_path / "v.vcf.gz", ["A"], SIZES)
    bam = write_bam(tmp_path / "b.bam", {"Chr1": 1000, "Chr3": 600})
    for path in (vcf, bam):  # the file rewritten after indexing (bcftools view -f PASS -o the same name)
        os.utime(path, (os.stat(path).st_atime, os.stat(path).st_mtime + 60))
    with pytest.raises(ValueError, match=r"v.vcf.gz: its index .*v.vcf.gz.tbi is older than the file .*\(tabix -f -p vcf .*v.vcf.gz\)"):
        checks.check_vcf(vcf, SIZES, "ref.fa", [])
    with pytest.raises(ValueError, match=r"b.bam: its index .*b.bam.bai is older than the file .*\(samtools index .*b.bam\)"):
        checks.check_bam(bam, SIZES, "g.fa")


def test_other_namings_get_a_hint_and_vcfs_match_them_with_chrom_aliases(tmp_path):
    (tmp_path / "p.bed").write_text("chr01\t10\t100\n")
    with pytest.raises(ValueError, match=r"chromosome 'chr01' is not in the genome g.fa .*; it is 'Chr1' there under another naming: set chrom_aliases: true"):
        checks.check_peaks(tmp_path / "p.bed", SIZES, "g.fa")
    # one peak on the genome does not make the others organelles: the genome's chromosomes under another naming
    (tmp_path / "p.bed").write_text("ChrC\t5\t50\nchr01\t10\t100\nchr01\t200\t300\nChr2\t10\t100\n")
    with pytest.raises(ValueError, match=r"p.bed, line 2, column 1: chromosome 'chr01' is not in the genome g.fa: 2 of the file's 4 peaks"
                                         r" lie on chromosomes of the genome named otherwise \(chr01\).*taught as unmarked; it is 'Chr1'"
                                         r" there under another naming: set chrom_aliases: true"):
        checks.check_peaks(tmp_path / "p.bed", SIZES, "g.fa")
    (tmp_path / "p.bed").write_text("ChrC\t5\t50\nChr2\t10\t100\n")  # an organelle the genome lacks: skipped
    assert "1 of 2 peak(s) skipped" in checks.check_peaks(tmp_path / "p.bed", SIZES, "g.fa")["notes"][0]
    with pytest.raises(ValueError, match=r"reference '1' is not in the genome g.fa .*; it is 'Chr1' there under another naming"):
        checks.check_bam(write_bam(tmp_path / "ens.bam", {"1": 1000}), SIZES, "g.fa")
    vcf = write_vcf(tmp_path / "ucsc.vcf.gz", ["A"], {"chr1": 1000, "chr2": 800}, records=[("chr1", 5)])
    with pytest.raises(ValueError, match=r"contig 'chr1' is not in the reference ref.fa .*; it is 'Chr1' there under another naming: set chrom_aliases: true"):
        checks.check_vcf(vcf, SIZES, "ref.fa", [("v.tsv, line 2", "A")])
    checks.check_vcf(vcf, SIZES, "ref.fa", [("v.tsv, line 2", "A")], aliases=True)
    wrong = write_vcf(tmp_path / "wrong.vcf.gz", ["A"], {"chr1": 1000, "chr02": 801})
    with pytest.raises(ValueError, match=r"contig 'chr02' is 801 bp long; in the reference ref.fa 'Chr2' is 800 bp"):
        checks.check_vcf(wrong, SIZES, "ref.fa", [("v.tsv, line 2", "A")], aliases=True)
    twice = write_vcf(tmp_path / "twice.vcf.gz", ["A"], {"chr1": 1000, "1": 1000})
    with pytest.raises(ValueError, match=r"twice.vcf.gz: chromosomes 'chr1' and '1' are both the genome's 'Chr1' \(chrom_aliases: true\)"):
        checks.check_vcf(twice, SIZES, "ref.fa", [("v.tsv, line 2", "A")], aliases=True)


def test_peaks_and_bams_in_another_naming_pass_with_chrom_aliases(tmp_path):
    with gzip.open(tmp_path / "p.narrowPeak.gz", "wt") as fh:
        fh.write("track name=x\nchr01\t10\t100\tp1\n3\t500\t600\tp2\nchr01\t200\t300\tp3\n")
    checks.check_peaks(tmp_path / "p.narrowPeak.gz", SIZES, "g.fa", aliases=True)
    with pytest.raises(ValueError, match=r"p.narrowPeak.gz, line 2, column 1: chromosome 'chr01' is not in the genome g.fa"
                                         r" .*; it is 'Chr1' there under another naming"):
        checks.check_peaks(tmp_path / "p.narrowPeak.gz", SIZES, "g.fa")
    (tmp_path / "two.bed").write_text("chr1\t10\t100\n1\t10\t100\n")
    with pytest.raises(ValueError, match=r"two.bed, line 2, column 1: chromosomes 'chr1' and '1' are both the genome's 'Chr1' \(chrom_aliases: true\)"):
        checks.check_peaks(tmp_path / "two.bed", SIZES, "g.fa", aliases=True)
    with pytest.raises(ValueError, match=r"two.bed, line 1, column 1: chromosome 'chr1' matches several names of the genome: \['Chr1', 'chr01'\]"):
        checks.check_peaks(tmp_path / "two.bed", {**SIZES, "chr01": 1000}, "g.fa", aliases=True)
    (tmp_path / "none.bed").write_text("chr9\t10\t100\n")
    with pytest.raises(ValueError, match=r"none.bed, line 1, column 1: chromosome 'chr9' is not in the genome g.fa"):
        checks.check_peaks(tmp_path / "none.bed", SIZES, "g.fa", aliases=True)

    ens = write_bam(tmp_path / "ens.bam", {"1": 1000, "chr03": 600})
    checks.check_bam(ens, SIZES, "g.fa", aliases=True)
    with pytest.raises(ValueError, match=r"ens.bam, header line 2: reference '1' is not in the genome g.fa .*; it is 'Chr1' there under another naming: set chrom_aliases: true"):
        checks.check_bam(ens, SIZES, "g.fa")
    with pytest.raises(ValueError, match=r"long.bam, header line 2: reference '2' is 801 bp long; in the genome g.fa 'Chr2' is 800 bp"):
        checks.check_bam(write_bam(tmp_path / "long.bam", {"2": 801}), SIZES, "g.fa", aliases=True)
    with pytest.raises(ValueError, match=r"twice.bam: chromosomes 'chr1' and '1' are both the genome's 'Chr1' \(chrom_aliases: true\)"):
        checks.check_bam(write_bam(tmp_path / "twice.bam", {"chr1": 1000, "1": 1000}), SIZES, "g.fa", aliases=True)
    with pytest.raises(ValueError, match=r"ens.bam: chromosome '1' matches several names of the genome: \['Chr1', 'chr01'\]"):
        checks.check_bam(ens, {**SIZES, "chr01": 1000}, "g.fa", aliases=True)


def test_split_chromosomes_in_every_genome_and_some_left_to_train():
    genomes = {"t.tsv, line 2": ("a.fa", SIZES), "t.tsv, line 3": ("b.fa", {"Chr1": 10, "Chr3": 10, "Chr4": 10})}
    checks.check_split(genomes, ["Chr1"], ["Chr3"])
    with pytest.raises(ValueError, match=r"config split.valid_chroms: 'Chr2' is not a chromosome of b.fa \(t.tsv, line 3\); its .fai names Chr1, Chr3, Chr4;"
                                         r" name your genome's held-out chromosomes in the config's split, e\.g\. --config 'split="):
        checks.check_split(genomes, ["Chr2"], ["Chr3"])
    with pytest.raises(ValueError, match=r"hold out every chromosome of a.fa \(t.tsv, line 2\); expected at least one left to train on"):
        checks.check_split(genomes, ["Chr1", "Chr2"], ["Chr3"])
    with pytest.raises(ValueError, match=r"\['Chr1'\] are both in valid_chroms and test_chroms"):
        checks.check_split(genomes, ["Chr1"], ["Chr1"])
    # a cultivar assembly of another naming: matched with chrom_aliases, a hint without
    genomes["t.tsv, line 4"] = ("c.fa", {"chr01": 10, "chr03": 10, "chr04": 10})
    checks.check_split(genomes, ["Chr1"], ["Chr3"], aliases=True)
    with pytest.raises(ValueError, match=r"split.valid_chroms: 'Chr1' is not a chromosome of c.fa \(t.tsv, line 4\); its .fai"
                                         r" names chr01, chr03, chr04; it is 'chr01' there under another naming: set chrom_aliases"):
        checks.check_split(genomes, ["Chr1"], ["Chr3"])
    with pytest.raises(ValueError, match=r"\['chr01'\] are both in valid_chroms and test_chroms"):
        checks.check_split(genomes, ["chr01"], ["Chr1"], aliases=True)


def test_a_mark_without_a_peak_on_a_held_out_part_stops_before_any_job(tmp_path, genome):
    config = {"reference": str(genome), "split": {"valid_chroms": ["Chr1"], "test_chroms": ["Chr2"]}}
    peaks = tmp_path / "p.bed"
    peaks.write_text("Chr1\t0\t100\nChr3\t0\t100\n")
    samples, varieties = _sheets(tmp_path, genome, peaks, write_vcf(tmp_path / "v.vcf.gz", ["A"], SIZES))
    with pytest.raises(ValueError, match=r"config split.test_chroms: no cultivar of t.tsv has a K4 peak on Chr2, so nothing"
                                         r" there would score the hold-out model; .*\(they lie on Chr1, Chr3\)"):
        checks.check_inputs(config, samples, varieties, "t.tsv", "v.tsv")
    with pytest.raises(ValueError, match=r"split.valid_chroms: no cultivar of t.tsv has a K4 peak on Chr2, so nothing there"
                                         r" would stop the hold-out run"):
        checks.check_inputs({**config, "split": {"valid_chroms": ["Chr2"], "test_chroms": ["Chr3"]}}, samples, varieties, "t.tsv")
    with pytest.raises(ValueError, match=r"config split: every K4 peak of t.tsv lies on the held-out chromosomes \(Chr1, Chr3\),"
                                         r" so the hold-out run would have nothing marked to train on"):
        checks.check_inputs({**config, "split": {"valid_chroms": ["Chr3"], "test_chroms": ["Chr1"]}}, samples, varieties, "t.tsv")
    peaks.write_text("Chr1\t0\t9\nChr2\t0\t9\nChr3\t0\t9\n")
    checks.check_inputs({**config, "split": {"valid_chroms": ["Chr3"], "test_chroms": ["Chr2"]}}, samples, varieties)
    # a mark with a BAM row beside its peaks rows is left to training (its peaks are called in build_labels)
    bam = write_bam(tmp_path / "b.bam", SIZES)
    (tmp_path / "t2.tsv").write_text(f"cultivar\tmark\tgenome\tpeaks\tbam\nA\tK4\t{genome}\t{peaks}\t\nB\tK4\t{genome}\t\t{bam}\n")
    peaks.write_text("Chr1\t0\t100\n")
    checks.check_inputs(config, load_training_sheet(tmp_path / "t2.tsv"), varieties, "t2.tsv")
    # the peaks of all the mark's rows count, in any naming with chrom_aliases; a BAM row's are not known before its job
    with pytest.raises(ValueError, match=r"has a K27 peak on Chr1,"):  # each mark on its own
        checks.check_marked_split({"K4": {"Chr1", "Chr2", "Chr3"}, "K27": {"Chr2", "Chr3"}}, {"valid_chroms": ["Chr1"], "test_chroms": ["Chr2"]}, "t.tsv")
    checks.check_marked_split({"K4": {"Chr1", "Chr2", "Chr3"}}, {"valid_chroms": ["chr01"], "test_chroms": ["2"]}, "t.tsv", aliases=True)
    checks.check_marked_split({"K4": None}, {"valid_chroms": ["Chr1"], "test_chroms": ["Chr2"]}, "t.tsv")


def _sheets(tmp_path, genome, peaks, vcf):
    (tmp_path / "t.tsv").write_text(f"cultivar\tmark\tgenome\tpeaks\nA\tK4\t{genome}\t{peaks}\n")
    (tmp_path / "v.tsv").write_text(f"variety\tvcf\tsample\nV1\t{vcf}\tA\n")
    return (load_training_sheet(tmp_path / "t.tsv", buildable_dir=tmp_path / "demo"),
            load_varieties_sheet(tmp_path / "v.tsv", buildable_dir=tmp_path / "demo"))


def test_check_inputs_skips_files_a_rule_makes_and_checks_them_once_they_exist(tmp_path, genome):
    config = {"reference": str(tmp_path / "demo" / "ref.fa"), "split": {"valid_chroms": ["Chr1"], "test_chroms": ["Chr2"]}}
    demo = tmp_path / "demo"
    files = {"genome": demo / "g.fa", "peaks": demo / "p.bed", "vcf": demo / "v.vcf.gz"}
    samples, varieties = _sheets(tmp_path, files["genome"], files["peaks"], files["vcf"])
    checks.check_inputs(config, samples, varieties, "t.tsv", "v.tsv", buildable_dir=demo)  # nothing exists yet
    demo.mkdir()
    shutil.copy(genome, files["genome"])
    shutil.copy(genome, demo / "ref.fa")
    files["peaks"].write_text("Chr1\t100\t0\n")
    with pytest.raises(ValueError, match=r"p.bed, line 1, columns 2-3: start 100 and end 0 are not a valid interval"):
        checks.check_inputs(config, samples, varieties, "t.tsv", "v.tsv", buildable_dir=demo)
    files["peaks"].write_text("Chr1\t0\t100\nChr2\t0\t100\nChr3\t0\t100\nChr9\t0\t100\n")
    write_vcf(files["vcf"], ["B"], SIZES)
    with pytest.raises(ValueError, match=r"v.tsv, line 2, column 'sample': 'A' is not a sample of"):
        checks.check_inputs(config, samples, varieties, "t.tsv", "v.tsv", buildable_dir=demo)
    write_vcf(files["vcf"], ["A"], SIZES)
    warnings = checks.check_inputs(config, samples, varieties, "t.tsv", "v.tsv", buildable_dir=demo)
    assert len(warnings) == 1 and "p.bed: 1 of 4 peak(s) skipped, on chromosomes the genome" in warnings[0]


def test_check_inputs_cache_skips_an_unchanged_peaks_file_and_rereads_a_changed_one(tmp_path, genome):
    config = {"reference": str(genome), "split": {"valid_chroms": ["Chr1"], "test_chroms": ["Chr2"]}}
    peaks = tmp_path / "p.bed"
    peaks.write_text("Chr1\t0\t100\nChr2\t0\t100\nChr3\t0\t100\n")
    samples, varieties = _sheets(tmp_path, genome, peaks, write_vcf(tmp_path / "v.vcf.gz", ["A"], SIZES))
    cache = tmp_path / ".snakemake" / "checks.json"
    checks.check_inputs(config, samples, varieties, cache=cache)
    assert cache.is_file()
    # same size and modification time: the cached pass stands, the file is not read again
    stat = peaks.stat()
    peaks.write_text("Chr9\t0\t100\nChr9\t0\t100\nChr9\t0\t100\n")
    os.utime(peaks, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    checks.check_inputs(config, samples, varieties, cache=cache)
    # a check's warnings are remembered with it: a rerun (after snakemake -n) shows them again
    peaks.write_text("Chr1\t0\t100\nChr2\t700\t900\nChr3\t0\t100\n")
    first = checks.check_inputs(config, samples, varieties, cache=cache)
    assert len(first) == 1 and "1 peak(s) ran past a chromosome end" in first[0]
    assert checks.check_inputs(config, samples, varieties, cache=cache) == first
    # a changed file is read again
    peaks.write_text("Chr9\t0\t1000\n")
    with pytest.raises(ValueError, match=r"chromosome 'Chr9' is not in the genome"):
        checks.check_inputs(config, samples, varieties, cache=cache)
    with pytest.raises(ValueError, match=r"config reference: file not found: .*nope.fa"):
        checks.check_inputs({**config, "reference": str(tmp_path / "nope.fa")}, samples, varieties)


def test_check_inputs_cache_keeps_a_peaks_file_that_passed_with_chrom_aliases_apart(tmp_path, genome):
    config = {"reference": str(genome), "split": {"valid_chroms": ["Chr1"], "test_chroms": ["Chr2"]}}
    peaks = tmp_path / "p.bed"
    peaks.write_text("chr01\t0\t100\nchr02\t0\t100\nchr03\t0\t100\n")
    samples, varieties = _sheets(tmp_path, genome, peaks, write_vcf(tmp_path / "v.vcf.gz", ["A"], SIZES))
    cache = tmp_path / ".snakemake" / "checks.json"
    checks.check_inputs({**config, "chrom_aliases": True}, samples, varieties, cache=cache)
    with pytest.raises(ValueError, match=r"p.bed, line 1, column 1: chromosome 'chr01' is not in the genome"):
        checks.check_inputs(config, samples, varieties, cache=cache)  # the pass with aliases does not count


def test_reference_mapped_rows_are_checked_against_the_reference_and_their_sample(tmp_path, genome):
    config = {"reference": str(genome), "split": {"valid_chroms": ["Chr1"], "test_chroms": ["Chr2"]}}
    vcf = write_vcf(tmp_path / "cultivars.vcf.gz", ["CV04", "CV13"], SIZES)
    (tmp_path / "p.bed").write_text("Chr1\t0\t100\nChr2\t0\t100\nChr3\t0\t600\n")
    (tmp_path / "v.tsv").write_text(f"variety\tgenome\nV1\t{genome}\n")
    varieties = load_varieties_sheet(tmp_path / "v.tsv")

    def check(sample, peaks=tmp_path / "p.bed"):
        (tmp_path / "t.tsv").write_text(f"cultivar\tmark\tvcf\tsample\tpeaks\nCV13\tK4\t{vcf}\t{sample}\t{peaks}\n")
        return checks.check_inputs(config, load_training_sheet(tmp_path / "t.tsv"), varieties, "t.tsv", "v.tsv")

    assert check("CV13") == []  # the peaks fit the reference, the sample is in the VCF
    with pytest.raises(ValueError, match=r"t.tsv, line 2, column 'sample': 'CV99' is not a sample of .*cultivars.vcf.gz"):
        check("CV99")
    with pytest.raises(ValueError, match=r"t.tsv, line 2, column 'sample': empty, but .*cultivars.vcf.gz has 2 samples"):
        check("")
    (tmp_path / "long.bed").write_text("Chr1\t0\t100\nChr2\t0\t100\nChr3\t0\t601\n")
    assert re.search(r"long.bed: 1 peak\(s\) ran past a chromosome end, clipped to it \(the first, line 3: Chr3:0-601, Chr3 is"
                     r" 600 bp", check("CV13", tmp_path / "long.bed")[0])


def test_check_inputs_reads_the_annotation_against_the_reference(tmp_path, genome):
    config = {"reference": str(genome), "split": {"valid_chroms": ["Chr1"], "test_chroms": ["Chr2"]}}
    peaks = tmp_path / "p.bed"
    peaks.write_text("Chr1\t0\t100\nChr2\t0\t100\nChr3\t0\t100\n")
    samples, varieties = _sheets(tmp_path, genome, peaks, write_vcf(tmp_path / "v.vcf.gz", ["A"], SIZES))
    gff = tmp_path / "genes.gff3.gz"
    gff.write_bytes(gzip.compress(b"##gff-version 3\nchr01\tt\tgene\t1\t100\t.\t+\t.\tID=g1\n"))
    with pytest.raises(ValueError, match=r"config annotation: .*genes.gff3.gz, line 2, column 1: chromosome 'chr01'"
                                         r" is not in the reference .*set chrom_aliases: true"):
        checks.check_inputs({**config, "annotation": str(gff)}, samples, varieties)
    checks.check_inputs({**config, "annotation": str(gff), "chrom_aliases": True}, samples, varieties)
    organelle = tmp_path / "organelle.gff3"  # features on a chromosome the reference lacks: a start-up warning
    organelle.write_text("Chr1\tt\tgene\t1\t100\t.\t+\t.\tID=g1\nChrC\tt\tgene\t1\t100\t.\t+\t.\tID=c1\n")
    warned = checks.check_inputs({**config, "annotation": str(organelle)}, samples, varieties)
    assert [w for w in warned if "organelle" in w] == [
        f"{organelle}, line 2, column 1: chromosome 'ChrC' is not in the reference (its .fai names Chr1, Chr2, Chr3); its"
        " features are skipped, as are those of the file's other chromosomes the reference lacks (1 of 2: ChrC)"]
    two = write_fasta(tmp_path / "two.fa", {"Chr1": "ACGT" * 250, "chr01": "ACGT" * 250, "Chr2": "ACGT" * 200})
    gff.write_bytes(gzip.compress(b"1\tt\tgene\t1\t100\t.\t+\t.\tID=g1\n"))
    with pytest.raises(ValueError, match=r"config annotation: .*chromosome '1' matches several .*\['Chr1', 'chr01'\]"):
        checks.check_annotation(gff, checks.fasta_sizes(two), aliases=True)
    with pytest.raises(ValueError, match=r"config annotation: file not found: .*nope.gff3"):
        checks.check_inputs({**config, "annotation": str(tmp_path / "nope.gff3")}, samples, varieties)


# --- the workflow stops before any job ----------------------------------------------------------


def _snakemake(work, *args):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(work),
           "--configfile", str(work / "config.yaml"), *args, "--cores", "1", "--resources", "gpu=1"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def _copy_fasta_without(src, dst, drop=(), shorten=()):
    records, name = {}, None
    for line in Path(src).read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            records[name] = []
        else:
            records[name].append(line)
    seqs = {n: "".join(s) for n, s in records.items() if n not in drop}
    return write_fasta(dst, {n: s[:-10] if n in shorten else s for n, s in seqs.items()})


def _break_vcf_sample(work, panel, training, varieties, config):
    row = varieties.index[varieties.vcf != ""][0]
    varieties.loc[row, "sample"] = "IRIS_NOT_THERE"
    return [r"varieties.tsv, line 3, column 'sample': 'IRIS_NOT_THERE' is not a sample of .*varieties.vcf.gz"]


def _break_cultivar_sample(work, panel, training, varieties, config):
    line = training.index[training.vcf != ""][0]
    training.loc[training.cultivar == training.loc[line, "cultivar"], "sample"] = "CV_NOT_THERE"
    return [rf"training.tsv, line {line}, column 'sample': 'CV_NOT_THERE' is not a sample of .*cultivars.vcf.gz"]


def _break_vcf_contig(work, panel, training, varieties, config):
    config["reference"] = str(_copy_fasta_without(panel / "reference.fa", work / "ref.fa", drop=["ChrUn_scaffold1"]))
    # the first file that names it stops the run: a VCF, or the reference-mapped cultivar's BAM
    return [r"(vcf.gz, header line \d+: contig|\.bam, header line \d+: reference) 'ChrUn_scaffold1' is not in the (reference|genome) .*ref.fa"]


def _break_vcf_length(work, panel, training, varieties, config):
    config["reference"] = str(_copy_fasta_without(panel / "reference.fa", work / "ref.fa", shorten=["Chr2"]))
    n = dict(line.split("\t")[:2] for line in (panel / "reference.fa.fai").read_text().splitlines())["Chr2"]
    return [rf"(vcf.gz, header line \d+: contig 'Chr2' is {n} bp long; in the reference .*ref.fa 'Chr2' is {int(n) - 10} bp"
            rf"|\.bam, header line \d+: reference 'Chr2' is {n} bp long; in the genome .*ref.fa it is {int(n) - 10} bp)"]


def _break_peaks_chrom(work, panel, training, varieties, config):
    row = training.index[(training.peaks != "") & ~training.peaks.str.endswith(".gz")][1]
    src = Path(training.loc[row, "peaks"])
    lines = ["chr" + line[len("Chr"):] for line in src.read_text().splitlines()]  # none on the genome: an error
    (work / src.name).write_text("\n".join(lines) + "\n")
    training.loc[row, "peaks"] = str(work / src.name)
    first = lines[0].split("\t")[0]
    return [rf"{src.name}, line 1, column 1: chromosome '{first}' is not in the genome .*{Path(training.loc[row, 'genome']).name}"
            r" \(its .fai names .*\), nor is any other of the file's .*under another naming: set chrom_aliases: true"]


def _break_bam_genome(work, panel, training, varieties, config):
    row = training.index[training.bam != ""][0]
    other = training.loc[training.cultivar != training.loc[row, "cultivar"], "genome"].iloc[0]
    training.loc[training.cultivar == training.loc[row, "cultivar"], "genome"] = other  # BAM aligned to another assembly
    return [rf"{Path(training.loc[row, 'bam']).name}, header line \d+: reference 'Chr\w+' is \d+ bp long; in the genome .*{Path(other).name} it is \d+ bp"]


def _break_empty_fasta(work, panel, training, varieties, config):
    row = training.index[-1]
    (work / "empty.fa").write_text("")
    training.loc[training.cultivar == training.loc[row, "cultivar"], "genome"] = str(work / "empty.fa")
    return [r"empty.fa: no sequences found \(empty FASTA"]


def _break_split(work, panel, training, varieties, config):
    config["split"] = {"valid_chroms": ["Chr9"], "test_chroms": ["Chr13"]}
    return [r"config split.test_chroms: 'Chr13' is not a chromosome of .*CV01.fa \(.*training.tsv, line 2\)"]


@pytest.mark.parametrize("breaks", [_break_vcf_sample, _break_cultivar_sample, _break_vcf_contig, _break_vcf_length, _break_peaks_chrom,
                                    _break_bam_genome, _break_empty_fasta, _break_split], ids=lambda f: f.__name__[7:])
def test_workflow_stops_before_any_job_on_a_broken_input(breaks, test_panel, tmp_path):

    read = lambda p: pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False)  # noqa: E731
    training, varieties = read(test_panel / "training.tsv"), read(test_panel / "varieties.tsv")
    training.index, varieties.index = training.index + 2, varieties.index + 2  # file lines
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(reference=str(test_panel / "reference.fa"), split={"valid_chroms": ["Chr9"], "test_chroms": ["Chr10"]},
                  demo={"outdir": str(tmp_path / "no-demo")}, training={"epochs": 1},
                  annotation=str(test_panel / "truth" / "genes.gff3"))
    expected = breaks(tmp_path, test_panel, training, varieties, config)
    training.to_csv(tmp_path / "training.tsv", sep="\t", index=False)
    varieties.to_csv(tmp_path / "varieties.tsv", sep="\t", index=False)
    config.update(samples=str(tmp_path / "training.tsv"), varieties=str(tmp_path / "varieties.tsv"))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = _snakemake(tmp_path)  # a real run, not a dry run: nothing may start
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists(), out[-3000:]
    for pattern in expected:
        assert re.search(pattern, out), f"{pattern!r} not in:\n{out[-3000:]}"


def test_workflow_matches_a_vcf_in_another_naming_only_with_chrom_aliases(test_panel, tmp_path):

    text = gzip.open(test_panel / "varieties.vcf.gz", "rt").read()
    renamed = re.sub(r"\bChr(\d+)\b", lambda m: f"chr{int(m.group(1)):02d}", text)  # Chr1 -> chr01 (RAP-DB style)
    assert "chr01" in renamed and "Chr1\t" not in renamed
    (tmp_path / "calls.vcf").write_text(renamed)
    vcf = pysam.tabix_index(str(tmp_path / "calls.vcf"), preset="vcf", force=True)
    varieties = pd.read_csv(test_panel / "varieties.tsv", sep="\t", dtype=str, keep_default_na=False)
    varieties.loc[varieties.vcf != "", "vcf"] = vcf
    varieties.to_csv(tmp_path / "varieties.tsv", sep="\t", index=False)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(samples=str(test_panel / "training.tsv"), varieties=str(tmp_path / "varieties.tsv"),
                  reference=str(test_panel / "reference.fa"), split={"valid_chroms": ["Chr9"], "test_chroms": ["Chr10"]},
                  demo={"outdir": str(tmp_path / "no-demo")}, annotation=str(test_panel / "truth" / "genes.gff3"))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = _snakemake(tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and not (tmp_path / "results").exists(), out[-3000:]
    assert re.search(r"calls.vcf.gz, header line \d+: contig 'chr01' is not in the reference .*reference.fa .*"
                     r"it is 'Chr1' there under another naming: set chrom_aliases: true", out), out[-3000:]
    proc = _snakemake(tmp_path, "-n", "--config", "chrom_aliases=True")  # Snakemake reads True, not true
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "predict_variety" in proc.stdout



def _renamed_bam(src, dst, rename):
    """A copy of ``src`` with its references renamed (what ``samtools reheader`` makes), indexed."""
    with pysam.AlignmentFile(str(src), "rb") as bam:
        header = bam.header.to_dict()
        header["SQ"] = [{**sq, "SN": rename(sq["SN"])} for sq in header["SQ"]]
        with pysam.AlignmentFile(str(dst), "wb", header=header) as out:
            for read in bam:
                out.write(read)
    pysam.index(str(dst))
    return dst


def test_workflow_matches_peaks_and_bams_in_another_naming_only_with_chrom_aliases(test_panel, tmp_path):

    training = pd.read_csv(test_panel / "training.tsv", sep="\t", dtype=str, keep_default_na=False)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(samples=str(tmp_path / "training.tsv"), varieties=str(test_panel / "varieties.tsv"),
                  reference=str(test_panel / "reference.fa"), split={"valid_chroms": ["Chr9"], "test_chroms": ["Chr10"]},
                  demo={"outdir": str(tmp_path / "no-demo")}, annotation=str(test_panel / "truth" / "genes.gff3"))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))

    def stops_without_aliases(pattern):
        training.to_csv(tmp_path / "training.tsv", sep="\t", index=False)
        proc = _snakemake(tmp_path)  # a real run: it must stop before any job
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0 and not (tmp_path / "results").exists() and not (tmp_path / "logs").exists(), out[-3000:]
        assert re.search(pattern, out), f"{pattern!r} not in:\n{out[-3000:]}"

    peaks_row = training.index[training.peaks.str.endswith(".gz")][0]
    src = Path(training.loc[peaks_row, "peaks"])
    text = gzip.open(src, "rt").read()
    with gzip.open(tmp_path / src.name, "wt") as fh:  # Chr1 -> chr01 (RAP-DB style)
        fh.write(re.sub(r"^Chr(\d+)\t", lambda m: f"chr{int(m.group(1)):02d}\t", text, flags=re.MULTILINE))
    first = gzip.open(tmp_path / src.name, "rt").readline().split("\t")[0]
    assert re.fullmatch(r"chr\d\d", first), first
    training.loc[peaks_row, "peaks"] = str(tmp_path / src.name)
    stops_without_aliases(rf"{src.name}, line 1, column 1: chromosome '{first}' is not in the genome .*"
                          r"under another naming: set chrom_aliases: true")

    bam_row = training.index[training.bam != ""][0]
    ensembl = lambda name: re.sub(r"^Chr(\d+)$", r"\1", name)  # noqa: E731  Chr1 -> 1
    for col in ("bam", "control"):
        src = Path(training.loc[bam_row, col])
        training.loc[bam_row, col] = str(_renamed_bam(src, tmp_path / src.name, ensembl))
    stops_without_aliases(rf"{Path(training.loc[bam_row, 'bam']).name}, header line \d+: reference '1' is not in the"
                          r" genome .*it is 'Chr1' there under another naming: set chrom_aliases: true")

    proc = _snakemake(tmp_path, "-n", "--config", "chrom_aliases=True")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "build_labels" in proc.stdout and not (tmp_path / "results").exists()


@pytest.mark.slow
def test_demo_files_are_skipped_until_the_rule_makes_them_then_checked(tmp_path):

    shutil.copytree(REPO / "config", tmp_path / "config")  # the demo sheets: files under resources/demo

    def snakemake(*args):
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), *args, "--cores", "1"],
                              cwd=tmp_path, capture_output=True, text=True, env=env)

    proc = snakemake("-n")  # nothing simulated yet: planned, not checked
    assert proc.returncode == 0 and "simulate_demo" in proc.stdout, (proc.stdout + proc.stderr)[-3000:]
    proc = snakemake("resources/demo/training.tsv")  # the simulate_demo job alone
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    peaks = tmp_path / "resources" / "demo" / "peaks" / "CV03.H3K4me3.narrowPeak"
    lines = peaks.read_text().splitlines()
    chrom, start, end, rest = lines[0].split("\t", 3)
    peaks.write_text("\n".join([f"{chrom}\t{end}\t{start}\t{rest}", *lines[1:]]) + "\n")
    proc = snakemake()  # the files exist now: checked, and nothing runs
    out = proc.stdout + proc.stderr
    made = {p.relative_to(tmp_path).as_posix() for p in (tmp_path / "results").rglob("*") if p.is_file()}
    assert proc.returncode != 0 and made == {"results/benchmarks/simulate_demo.tsv"}, out[-3000:]  # the job before
    assert re.search(rf"CV03.H3K4me3.narrowPeak, line 1, columns 2-3: start {end} and end {start} are not a valid"
                     r" interval", out), out[-3000:]


def test_bam_rows_warn_once_per_file_and_organelles_in_one_line(tmp_path, genome):
    """20 cultivars' ChIP BAMs with ChrC and ChrM and one control per cultivar read by two marks: one line for the
    organelles, not one per file and row; a BAM without reads on a chromosome still named on its own."""
    config = {"reference": str(genome), "split": {"valid_chroms": ["Chr2"], "test_chroms": ["Chr3"]}}
    (tmp_path / "p.bed").write_text("Chr1\t0\t100\n")
    _, varieties = _sheets(tmp_path, genome, tmp_path / "p.bed", write_vcf(tmp_path / "v.vcf.gz", ["A"], SIZES))
    refs = {**SIZES, "ChrC": 134_525, "ChrM": 490_520}
    rows = ["cultivar\tmark\tgenome\tbam\tcontrol"]
    for i in range(4):
        control = write_bam(tmp_path / f"in{i}.bam", refs)
        for mark in ("K4", "K27"):
            rows.append(f"C{i}\t{mark}\t{genome}\t{write_bam(tmp_path / f'{mark}{i}.bam', refs)}\t{control}")
    part = write_bam(tmp_path / "part.bam", {"Chr1": 1000, "Chr2": 800, "Chr3": 600}, reads=100)
    rows.append(f"C9\tK4\t{genome}\t{part}\t")
    (tmp_path / "bams.tsv").write_text("\n".join(rows) + "\n")
    warnings = checks.check_inputs(config, load_training_sheet(tmp_path / "bams.tsv"), varieties, "bams.tsv", "v.tsv")
    assert warnings == [
        f"{part}: no mapped read on Chr2, Chr3 (its index): a ChIP file's chromosomes without reads are left out of its"
        " mark's training, a control's get the ChIP's genome-wide rate",
        f"12 BAM/CRAM files hold references their genome lacks, skipped, their reads not counted; the first: {tmp_path / 'K40.bam'}:"
        f" references not in the genome {genome} skipped, their reads not counted (0 mapped reads): ChrC, ChrM",
    ]
