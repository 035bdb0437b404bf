import gzip
from pathlib import Path

import numpy as np
import pysam
import pytest

from ntpipe import checks
from ntpipe.genome import write_fasta
from ntpipe.labels import LabelConfig, bam_labels, peak_labels
from ntpipe.peaks import read_peaks, scan_peaks

SIZE, STRIDE = 300, 100


WINDOW_MARGIN = (SIZE - STRIDE) // 2  # the margin at which "near the bin" is "touches the window"


def test_peak_labels_thresholds_and_ambiguous_windows():
    # peak [1000, 1250): bins 10, 11 fully covered, bin 12 half covered
    peak = (np.array([1000]), np.array([1250]))
    labels = peak_labels(peak, 3000, STRIDE, 0.5)
    assert labels[10] == labels[11] == labels[12] == 1
    assert labels[9] == 0 and labels[13] == 0  # their bins lie beside the peak: unmarked (the default margin 0)
    strict = peak_labels(peak, 3000, STRIDE, 0.8)
    assert strict[12] == -1  # half covered: neither marked nor clear of the peak
    assert strict[13] == 0
    window = peak_labels(peak, 3000, STRIDE, 0.5, negative_margin=WINDOW_MARGIN)
    assert window[9] == -1  # window [800, 1100) touches the peak, its bin does not
    assert window[8] == 0  # window [700, 1000) ends where the peak starts
    assert window[13] == -1 and window[14] == 0
    margin = peak_labels(peak, 3000, STRIDE, 0.5, negative_margin=50)
    assert margin[9] == -1 and margin[8] == 0  # [850, 1050) reaches the peak, [750, 950) does not
    assert margin[13] == 0  # [1250, 1450) begins where the peak ends
    assert np.array_equal(margin[10:13], labels[10:13])


def test_peak_labels_at_chromosome_ends():
    ends = (np.array([0, 2950]), np.array([60, 3010]))
    labels = peak_labels(ends, 3010, STRIDE, 0.5, negative_margin=WINDOW_MARGIN)
    assert len(labels) == 31
    assert labels[0] == 1  # 60 of the first 100 bp
    assert labels[30] == 1  # the last bin is 10 bp long and fully covered
    assert labels[29] == 1  # [2900, 3000) is half covered: positive at 0.5
    assert labels[28] == -1  # its window [2700, 3000) touches the peak
    assert labels[26] == 0
    assert peak_labels(ends, 3010, STRIDE, 0.5)[28] == 0  # its bin [2800, 2900) does not
    no_peaks = peak_labels(None, 450, STRIDE, 0.5)
    assert no_peaks.tolist() == [0] * 5


def test_read_peaks_formats_and_errors(tmp_path):
    sizes = {"Chr1": 3000, "Chr10": 2000}
    narrow = tmp_path / "p.narrowPeak.gz"
    with gzip.open(narrow, "wt") as fh:
        fh.write("track name=x\nChr1\t100\t200\tp1\t0\t.\t5\t4\t3\t50\nChr1\t150\t300\tp2\t0\t.\t5\t4\t3\t50\nChr10\t0\t10\tp3\t0\t.\t1\t1\t1\t5\n")
    peaks = read_peaks(narrow, sizes)
    assert peaks["Chr1"][0].tolist() == [100] and peaks["Chr1"][1].tolist() == [300]  # merged
    for text, message in [
        ("", "no peaks"),
        ("Chr3\t1\t10\n", r"line 1, column 1: chromosome 'Chr3' is not in the genome"),
        ("Chr1\t10\t9\n", r"line 1, columns 2-3: start 10 and end 9 are not a valid interval"),
        ("Chr1\t10\t10\n", r"no peaks \(only 1 zero-length interval\(s\)\)"),
        ("Chr1\t3000\t3100\nChr10\t2500\t2600\n", r"line 1, columns 2-3: Chr1:3000-3100 starts past the end of Chr1 \(3000 bp"),
        ("\x89PNG\x00\xff\xfe", r"bad.bed: not UTF-8 text; expected BED or narrowPeak text \(a binary file"),
        ("Chr1\tx\t10\n", "must be integers"),
        ("Chr1 1 10\n", "expected BED"),
    ]:
        bad = tmp_path / "bad.bed"
        bad.write_bytes(text.encode("latin-1"))
        with pytest.raises(ValueError, match=message):
            read_peaks(bad, sizes)
    zero = tmp_path / "zero.bed"  # BED's insertion points (start = end) mark no base: skipped, with a note
    zero.write_text("Chr1\t100\t100\nChr1\t100\t200\nChr10\t5\t5\n")
    peaks, notes = scan_peaks(zero, sizes)
    assert peaks == {"Chr1": [(100, 200)]}
    assert notes == [f"{zero}: 2 zero-length peak(s) (start = end, BED's insertion points) skipped; the first at line 1"]
    bam = tmp_path / "peaks.bam"  # a BAM given as peaks: bgzipped, but not text
    _bam(bam, sizes, [("Chr1", 10)])
    with pytest.raises(ValueError, match=r"peaks.bam: not UTF-8 text; expected BED or narrowPeak text"):
        read_peaks(bam, sizes)


def _bam(path, chrom_lengths, positions, reference=None):
    """A sorted, indexed BAM of 50 bp reads at ``(chrom, pos)`` or ``(chrom, pos, {attribute: value})``
    (``flag``, ``mapping_quality``); a CRAM when ``reference`` (its FASTA) is given."""
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": c, "LN": n} for c, n in chrom_lengths.items()]}
    mode, ref = ("wc", str(reference)) if reference else ("wb", None)
    with pysam.AlignmentFile(str(path), mode, header=header, reference_filename=ref) as bam:
        for i, (chrom, pos, *more) in enumerate(sorted(positions, key=lambda x: (list(chrom_lengths).index(x[0]), x[1]))):
            r = pysam.AlignedSegment(bam.header)
            r.query_name, r.reference_name, r.reference_start = f"r{i}", chrom, pos
            r.query_sequence, r.cigarstring, r.mapping_quality, r.flag = "A" * 50, "50M", 60, 0
            r.query_qualities = pysam.qualitystring_to_array("I" * 50)
            for key, value in (more[0] if more else {}).items():
                setattr(r, key, value)
            bam.write(r)
    pysam.index(str(path))
    return path


def test_bam_labels_enrichment(tmp_path):
    sizes = {"Chr1": 3000}
    rng = np.random.default_rng(0)
    chip = [("Chr1", int(p)) for p in rng.integers(1000, 1300, 200)] + [("Chr1", int(p)) for p in rng.integers(0, 2950, 60)]
    control = [("Chr1", int(p)) for p in rng.integers(0, 2950, 260)]
    chip_bam, ctrl_bam = _bam(tmp_path / "chip.bam", sizes, chip), _bam(tmp_path / "in.bam", sizes, control)
    cfg = LabelConfig(size=SIZE, stride=STRIDE)
    labels = bam_labels(chip_bam, ctrl_bam, sizes, cfg)["Chr1"]
    assert labels[11] == 1 and labels[12] == 1  # windows over the enriched region
    assert labels[25] == 0 and labels[2] == 0
    no_control = bam_labels(chip_bam, None, sizes, cfg)["Chr1"]
    assert no_control[11] == 1 and no_control[25] == 0


def test_bam_labels_mark_the_bin_as_peak_labels_do(tmp_path):
    # reads piled on two 1 kb marks of a 20 kb chromosome, read by 2 kb windows: the
    # labels follow the bins (as peak_labels of the marks would), not the windows' reach
    sizes, marks = {"Chr1": 20_000}, [(5_000, 6_000), (12_000, 13_000)]
    rng = np.random.default_rng(1)
    chip = [int(p) for s, e in marks for p in rng.integers(s - 50, e - 50, 400)] + [int(p) for p in rng.integers(0, 19_950, 200)]
    chip_bam = _bam(tmp_path / "chip.bam", sizes, [("Chr1", p) for p in chip])
    ctrl_bam = _bam(tmp_path / "in.bam", sizes, [("Chr1", int(p)) for p in rng.integers(0, 19_950, 600)])
    starts, ends = np.array([s for s, _ in marks]), np.array([e for _, e in marks])
    truth = peak_labels((starts, ends), 20_000, 100, 0.5)
    cfg = LabelConfig(size=2000, stride=100)
    for control in (ctrl_bam, None):
        labels = bam_labels(chip_bam, control, sizes, cfg)["Chr1"]
        assert (labels[truth == 1] == 1).all()
        marked = np.flatnonzero(labels == 1)
        assert np.isin(marked, np.r_[47:63, 117:133]).all()  # within 300 bp of a mark (the read span's blur)
        assert (labels[40:46] == 0).all() and (labels[65:115] == 0).all()  # 0.4-1 kb beside a mark: unmarked bins
        assert (labels == -1).sum() <= 30
    near = bam_labels(chip_bam, ctrl_bam, sizes, LabelConfig(size=2000, stride=100, negative_margin=1000))["Chr1"]
    assert (near[40:48] == -1).all() and (near[74:108] == 0).all() and (near[truth == 1] == 1).all()
    with pytest.raises(ValueError, match="labels.read_span 50 is shorter than the bin"):
        bam_labels(chip_bam, None, sizes, LabelConfig(size=2000, stride=100, read_span=50))


def test_a_control_without_reads_on_a_chromosome_is_floored_and_named(tmp_path, caplog):
    # the control's header lacks Chr2 (filtered, or aligned to part of the genome): its expected
    # count there is the ChIP's genome-wide mean, not 0 (which made every bin of min_reads a mark)
    sizes, cfg = {"Chr1": 15_000, "Chr2": 15_000}, LabelConfig(size=SIZE, stride=STRIDE)
    rng = np.random.default_rng(5)
    chip = [(c, int(p)) for c in sizes for p in rng.integers(0, 14_950, 300)] + [("Chr1", int(p)) for p in rng.integers(5000, 5950, 300)]
    chip_bam = _bam(tmp_path / "chip.bam", sizes, chip)
    ctrl_bam = _bam(tmp_path / "in.bam", {"Chr1": 15_000}, [("Chr1", int(p)) for p in rng.integers(0, 14_950, 600)])
    with caplog.at_level("WARNING", logger="ntpipe.labels"):
        labels = bam_labels(chip_bam, ctrl_bam, sizes, cfg)
    none = bam_labels(chip_bam, None, sizes, cfg)
    assert (labels["Chr1"][52:58] == 1).all() and (labels["Chr1"][:45] != 1).all()
    assert (labels["Chr2"] == 1).sum() == (none["Chr2"] == 1).sum() == 0  # expected 0: 143 of 150 bins marks
    assert "in.bam: the control has no reads that count on Chr2, where the ChIP has" in caplog.text
    with pytest.raises(ValueError, match="labels.control_span 400 is shorter than labels.read_span"):
        bam_labels(chip_bam, ctrl_bam, sizes, LabelConfig(size=SIZE, stride=STRIDE, control_span=400))


def test_a_chromosome_without_a_chip_read_is_left_out_not_taught_as_unmarked(tmp_path, caplog):
    # a ChIP BAM filtered to some chromosomes, or all multi-mappers on one: no evidence either way there
    sizes, cfg = {"Chr1": 15_000, "Chr2": 15_000, "Chr3": 15_000}, LabelConfig(size=SIZE, stride=STRIDE)
    rng = np.random.default_rng(6)
    chip = [("Chr1", int(p)) for p in rng.integers(0, 14_950, 300)] + [("Chr1", int(p)) for p in rng.integers(5000, 5950, 300)]
    chip += [("Chr2", int(p), {"mapping_quality": 0}) for p in rng.integers(0, 14_950, 300)]
    chip_bam = _bam(tmp_path / "chip.bam", sizes, chip)
    with caplog.at_level("WARNING", logger="ntpipe.labels"):
        labels = bam_labels(chip_bam, None, sizes, cfg)
    assert (labels["Chr1"][52:58] == 1).all() and (labels["Chr1"] == 0).sum() > 100
    assert (labels["Chr2"] == -1).all() and (labels["Chr3"] == -1).all() and len(labels["Chr3"]) == 150
    assert ("chip.bam: no read counts on Chr2, Chr3 (of the genome's 3 chromosomes): left out of training, not taught"
            " as unmarked") in caplog.text


def test_a_shallow_control_makes_no_marks_from_noise(tmp_path):
    # no signal, a control of a quarter of the ChIP's reads: its span counts of 0-5 scaled 4x made
    # 450 of 2,000 bins marks; floored by its counts over labels.control_span and the ChIP's mean
    sizes, cfg = {"Chr1": 200_000}, LabelConfig(size=SIZE, stride=STRIDE)
    rng = np.random.default_rng(6)
    chip = _bam(tmp_path / "chip.bam", sizes, [("Chr1", int(p), {"flag": int(f)}) for p, f in
                                               zip(rng.integers(0, 199_950, 4000), rng.choice([0, 16], 4000))])
    ctrl = _bam(tmp_path / "in.bam", sizes, [("Chr1", int(p)) for p in rng.integers(0, 199_950, 1000)])
    labels = bam_labels(chip, ctrl, sizes, cfg)["Chr1"]
    assert (labels == 1).sum() <= 2


@pytest.mark.parametrize("control", [True, False], ids=["control", "no_control"])
def test_bam_labels_agree_with_the_simulated_marks(test_panel, control):
    # the simulator's BAM cultivar CV01 against its true marks (demo scale, README: 99.9% with the
    # control; before the control's floor and the read filters 99.1%, here 99.6%)
    from ntpipe.genome import chrom_sizes

    sizes = dict(chrom_sizes(test_panel / "cultivars" / "CV01.fa"))
    truth = read_peaks(test_panel / "truth" / "CV01.H3K4me3.bed", sizes)
    got = bam_labels(test_panel / "bam" / "CV01.H3K4me3.bam", test_panel / "bam" / "CV01.input.bam" if control else None,
                     sizes, LabelConfig(size=1000, stride=100))
    true = np.concatenate([peak_labels(truth.get(c), n, 100, 0.5) for c, n in sizes.items()])
    label = np.concatenate([got[c] for c in sizes])
    both = (true >= 0) & (label >= 0)
    assert (true[both] == label[both]).mean() >= 0.998
    assert (label[true == 1] == 1).mean() >= 0.6  # the marks' edges are left out, not called unmarked


def test_reads_that_should_not_count_make_no_mark(tmp_path):
    # 30 reads piled on bin 10 over a thin background: a mark when they count, none when they should not
    sizes = {"Chr1": 20_000}
    rng = np.random.default_rng(3)
    background = [("Chr1", int(p)) for p in rng.integers(0, 19_950, 200)]

    def bin10(name, pile, **settings):
        bam = _bam(tmp_path / f"{name}.bam", sizes, background + pile)
        return bam_labels(bam, None, sizes, LabelConfig(size=SIZE, stride=STRIDE, **settings))["Chr1"][10]

    spread = [1000 + 3 * i for i in range(30)]
    assert bin10("counted", [("Chr1", p) for p in spread]) == 1
    assert bin10("qcfail", [("Chr1", p, {"flag": 0x200}) for p in spread]) != 1
    assert bin10("multi", [("Chr1", p, {"mapping_quality": 0}) for p in spread]) != 1
    assert bin10("mapq5", [("Chr1", p, {"mapping_quality": 5}) for p in spread]) != 1
    assert bin10("mapq5_kept", [("Chr1", p, {"mapping_quality": 5}) for p in spread], min_mapq=5) == 1
    assert bin10("unmarked_duplicates", [("Chr1", 1000)] * 30) != 1  # one position and strand: one read
    both = [("Chr1", 1000)] * 15 + [("Chr1", 1000 + 3 * i, {"flag": 16}) for i in range(15)]
    assert bin10("both_strands", both) == 1  # 1 forward + 15 reverse 5' ends


def test_paired_reads_count_each_fragment_once(tmp_path):
    # fragments of 200 bp: read 1 forward at p, read 2 reverse ending at p + 200 (or the other way round)
    sizes = {"Chr1": 20_000}
    rng = np.random.default_rng(4)
    starts = [int(p) for p in rng.integers(0, 19_750, 40) if not 500 < p < 1600]  # none near bin 10

    def pairs(ps, reverse=False):
        forward, backward = [("Chr1", p) for p in ps], [("Chr1", p + 150) for p in ps]
        first, second = (backward, forward) if reverse else (forward, backward)
        return ([(c, p, {"flag": 0x1 | 0x2 | 0x40 | (0x10 if reverse else 0x20)}) for c, p in first]
                + [(c, p, {"flag": 0x1 | 0x2 | 0x80 | (0x20 if reverse else 0x10)}) for c, p in second])

    def fragments(name, ps, paired):
        reads = pairs(ps) if paired else [("Chr1", p) for p in ps]
        bam = _bam(tmp_path / f"{name}.bam", sizes, reads)
        return bam_labels(bam, None, sizes, LabelConfig(size=SIZE, stride=STRIDE))["Chr1"]

    four = starts + [1000, 1020, 1040, 1060]  # fewer fragments on bin 10 than min_reads (5)
    single = fragments("single", four, paired=False)
    paired = fragments("paired", four, paired=True)
    assert single[10] != 1 and np.array_equal(paired, single)
    assert fragments("five", four + [1080], paired=True)[10] == 1
    improper = [("Chr1", p, {"flag": 0x1 | 0x40}) for p in four] + [("Chr1", p + 150, {"flag": 0x1 | 0x80 | 0x10}) for p in four]
    with pytest.raises(ValueError, match=r"improper.bam: no reads count on the genome's chromosomes"):
        bam_labels(_bam(tmp_path / "improper.bam", sizes, improper), None, sizes, LabelConfig(size=SIZE, stride=STRIDE))
    flipped = _bam(tmp_path / "flipped.bam", sizes, pairs(four, reverse=True))  # read 1 on the reverse strand
    assert bam_labels(flipped, None, sizes, LabelConfig(size=SIZE, stride=STRIDE))["Chr1"][10] != 1


def test_contigs_the_genome_lacks_are_skipped_with_a_warning(tmp_path, caplog):
    # an aligner's index holds the organelles (ChrC, ChrM); a nuclear-only genome FASTA does not
    sizes, cfg = {"Chr1": 3000}, LabelConfig(size=SIZE, stride=STRIDE)
    rng = np.random.default_rng(0)
    chip = [("Chr1", int(p)) for p in rng.integers(1000, 1300, 200)] + [("Chr1", int(p)) for p in rng.integers(0, 2950, 60)]
    control = [("Chr1", int(p)) for p in rng.integers(0, 2950, 260)]
    expected = bam_labels(_bam(tmp_path / "chip.bam", sizes, chip), _bam(tmp_path / "in.bam", sizes, control), sizes, cfg)
    organelles = {**sizes, "ChrC": 1500, "ChrM": 1000}
    plastid = [("ChrC", int(p)) for p in rng.integers(0, 1450, 300)]
    chip_bam = _bam(tmp_path / "chip.organelles.bam", organelles, chip + plastid)
    ctrl_bam = _bam(tmp_path / "in.organelles.bam", organelles, control + plastid)
    with caplog.at_level("WARNING", logger="ntpipe.labels"):
        got = bam_labels(chip_bam, ctrl_bam, sizes, cfg, genome="g.fa")
    assert np.array_equal(got["Chr1"], expected["Chr1"])
    assert ("chip.organelles.bam: references not in the genome g.fa skipped, their reads not counted"
            " (300 mapped reads): ChrC, ChrM") in caplog.text
    with pytest.raises(ValueError, match=r"only.bam: none of its references \(ChrC, ChrM\) is in the genome"):
        bam_labels(_bam(tmp_path / "only.bam", {"ChrC": 1500, "ChrM": 1000}, plastid), None, sizes, cfg)
    with pytest.raises(ValueError, match=r"long.bam, header line 2: reference 'Chr1' is 3001 bp long; in the genome it is 3000 bp"):
        bam_labels(_bam(tmp_path / "long.bam", {"Chr1": 3001, "ChrC": 1500}, chip), None, sizes, cfg)


def test_cram_decodes_against_the_genome_fasta(tmp_path, monkeypatch):
    # the FASTA named in the CRAM's header (UR:) is gone (aligned on another machine); htslib
    # must not look for it elsewhere (REF_PATH defaults to a download)
    monkeypatch.setenv("REF_PATH", str(tmp_path / "none" / "%s"))
    monkeypatch.setenv("REF_CACHE", str(tmp_path / "none" / "%s"))
    sizes, cfg = {"Chr1": 3000}, LabelConfig(size=SIZE, stride=STRIDE)
    rng = np.random.default_rng(2)
    seq = "".join(rng.choice(list("ACGT"), 3000))
    aligned = write_fasta(tmp_path / "aligned.fa", {"Chr1": seq})
    chip = [("Chr1", int(p)) for p in rng.integers(1000, 1300, 200)] + [("Chr1", int(p)) for p in rng.integers(0, 2950, 60)]
    control = [("Chr1", int(p)) for p in rng.integers(0, 2950, 260)]
    expected = bam_labels(_bam(tmp_path / "chip.bam", sizes, chip), _bam(tmp_path / "in.bam", sizes, control), sizes, cfg)
    crams = [_bam(tmp_path / f"{name}.cram", sizes, reads, reference=aligned) for name, reads in (("chip", chip), ("in", control))]
    genome = tmp_path / "genome.fa"
    aligned.rename(genome)
    Path(f"{aligned}.fai").unlink()
    got = bam_labels(*crams, sizes, cfg, genome=genome)
    assert np.array_equal(got["Chr1"], expected["Chr1"]) and (got["Chr1"] == 1).any()
    checks.check_bam(crams[0], sizes, genome)
    other = write_fasta(tmp_path / "other.fa", {"Chr1": "".join(rng.choice(list("ACGT"), 3000))})
    with pytest.raises(ValueError, match=r"chip.cram: cannot read its records: .*a CRAM decodes only against the FASTA it was aligned to"):
        checks.check_bam(crams[0], sizes, other)


# --- chromosome names in another naming (chrom_aliases) ----------------------------------------

def _labels_of(peaks, sizes):
    return {c: peak_labels(peaks.get(c), n, STRIDE, 0.5).tolist() for c, n in sizes.items()}


def test_peaks_in_another_naming_give_the_same_labels_with_aliases(tmp_path, caplog):
    sizes = {"Chr1": 3000, "Chr2": 2000, "Chr10": 1000}
    lines = [("Chr1", 100, 600), ("Chr2", 50, 400), ("Chr1", 1500, 1900), ("Chr10", 0, 300)]
    with gzip.open(tmp_path / "own.narrowPeak.gz", "wt") as fh:
        fh.writelines(f"{c}\t{s}\t{e}\tp\t0\t.\t5\t4\t3\t50\n" for c, s, e in lines)
    other = {"Chr1": "chr01", "Chr2": "2", "Chr10": "chr10"}  # RAP-DB, Ensembl and UCSC styles in one file
    with gzip.open(tmp_path / "other.narrowPeak.gz", "wt") as fh:
        fh.writelines(f"{other[c]}\t{s}\t{e}\tp\t0\t.\t5\t4\t3\t50\n" for c, s, e in lines)
    expected = _labels_of(read_peaks(tmp_path / "own.narrowPeak.gz", sizes), sizes)
    with caplog.at_level("INFO", logger="ntpipe.peaks"):
        got = read_peaks(tmp_path / "other.narrowPeak.gz", sizes, aliases=True)
    assert set(got) == {"Chr1", "Chr2", "Chr10"} and _labels_of(got, sizes) == expected
    assert "other.narrowPeak.gz: chromosome names matched to the genome's (chrom_aliases): chr01 -> Chr1, 2 -> Chr2, chr10 -> Chr10" in caplog.text
    with pytest.raises(ValueError, match=r"other.narrowPeak.gz, line 1, column 1: chromosome 'chr01' is not in the genome \(its .fai names Chr1, Chr2, Chr10\)"):
        read_peaks(tmp_path / "other.narrowPeak.gz", sizes)  # without aliases, as before
    (tmp_path / "amb.bed").write_text("Chr2\t0\t10\n1\t0\t10\n")
    with pytest.raises(ValueError, match=r"amb.bed, line 2, column 1: chromosome '1' matches several names of the genome: \['Chr1', 'chr01'\]"):
        read_peaks(tmp_path / "amb.bed", {"Chr1": 100, "chr01": 100, "Chr2": 100}, aliases=True)
    (tmp_path / "two.bed").write_text("chr1\t0\t10\nchr01\t0\t10\n")
    with pytest.raises(ValueError, match=r"two.bed, line 2, column 1: chromosomes 'chr1' and 'chr01' are both the genome's 'Chr1'"):
        read_peaks(tmp_path / "two.bed", sizes, aliases=True)
    (tmp_path / "none.bed").write_text("chr3\t0\t10\n")
    with pytest.raises(ValueError, match=r"none.bed, line 1, column 1: chromosome 'chr3' is not in the genome"):
        read_peaks(tmp_path / "none.bed", sizes, aliases=True)


def test_bams_in_another_naming_give_the_same_labels_with_aliases(tmp_path, caplog):
    sizes = {"Chr1": 3000, "Chr2": 2000}
    rng = np.random.default_rng(1)
    chip = [("Chr1", int(p)) for p in rng.integers(1000, 1300, 200)] + [("Chr2", int(p)) for p in rng.integers(0, 1950, 80)]
    control = [("Chr1", int(p)) for p in rng.integers(0, 2950, 150)] + [("Chr2", int(p)) for p in rng.integers(0, 1950, 100)]
    cfg = LabelConfig(size=SIZE, stride=STRIDE)
    expected = bam_labels(_bam(tmp_path / "chip.bam", sizes, chip), _bam(tmp_path / "in.bam", sizes, control), sizes, cfg)

    def renamed(path, names, reads):
        return _bam(path, {names[c]: n for c, n in sizes.items()}, [(names[c], p) for c, p in reads])

    chip_bam = renamed(tmp_path / "chip.chr01.bam", {"Chr1": "chr01", "Chr2": "chr02"}, chip)
    ctrl_bam = renamed(tmp_path / "in.ens.bam", {"Chr1": "1", "Chr2": "2"}, control)
    with caplog.at_level("INFO", logger="ntpipe.labels"):
        got = bam_labels(chip_bam, ctrl_bam, sizes, cfg, aliases=True)
    assert list(got) == ["Chr1", "Chr2"]
    assert all(np.array_equal(got[c], expected[c]) for c in sizes)
    assert (expected["Chr1"] == 1).any() and (expected["Chr1"] == 0).any()
    assert "chip.chr01.bam: chromosome names matched to the genome's (chrom_aliases): chr01 -> Chr1, chr02 -> Chr2" in caplog.text
    assert "in.ens.bam: chromosome names matched to the genome's (chrom_aliases): 1 -> Chr1, 2 -> Chr2" in caplog.text
    with pytest.raises(ValueError, match=r"chip.chr01.bam, header line 2: reference 'chr01' is not in the genome .*; it is 'Chr1' there under another naming"):
        bam_labels(chip_bam, ctrl_bam, sizes, cfg)  # without aliases, as before
    with pytest.raises(ValueError, match=r"in.ens.bam: chromosome '1' matches several names of the genome: \['Chr1', 'chr01'\]"):
        bam_labels(ctrl_bam, None, {"Chr1": 3000, "chr01": 3000, "Chr2": 2000}, cfg, aliases=True)


def test_peaks_are_read_gzipped_or_not_whatever_their_name(tmp_path):
    sizes = {"Chr1": 3000}
    text = "Chr1\t100\t600\tp\t0\t.\t5\t4\t3\t50\nChr1\t1500\t1900\tp\t0\t.\t5\t4\t3\t50\n"
    (tmp_path / "plain.narrowPeak").write_text(text)
    (tmp_path / "zipped.narrowPeak").write_bytes(gzip.compress(text.encode()))  # gzipped, no .gz
    (tmp_path / "plain.narrowPeak.gz").write_text(text)  # named .gz, not gzipped
    expected = read_peaks(tmp_path / "plain.narrowPeak", sizes)
    for name in ("zipped.narrowPeak", "plain.narrowPeak.gz"):
        got = read_peaks(tmp_path / name, sizes)
        assert [iv.tolist() for iv in got["Chr1"]] == [iv.tolist() for iv in expected["Chr1"]]
        checks.check_peaks(tmp_path / name, sizes, "g.fa")
