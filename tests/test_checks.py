"""Input checks: unit tests on tiny files (real pyfaidx and pysam), and the
workflow stopping before any job on a broken input of the test-scale panel."""

import gzip
import os
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
from ntpipe.sheets import load_training_sheet, load_varieties_sheet

REPO = Path(__file__).resolve().parent.parent
SIZES = {"Chr1": 1000, "Chr2": 800, "Chr3": 600}


@pytest.fixture
def genome(tmp_path):
    return write_fasta(tmp_path / "g.fa", {name: "ACGT" * (n // 4) for name, n in SIZES.items()})


def write_bam(path, refs, index=True):
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": n, "LN": ln} for n, ln in refs.items()]}
    with pysam.AlignmentFile(str(path), "wb", header=header):
        pass
    if index:
        pysam.index(str(path))
    return path


def write_vcf(path, samples, contigs):
    header = pysam.VariantHeader()
    for name, length in contigs.items():
        header.contigs.add(name, **({} if length is None else {"length": length}))
    header.formats.add("GT", 1, "String", "Genotype")
    for s in samples:
        header.add_sample(s)
    with pysam.VariantFile(str(path), "wz", header=header):
        pass
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


def test_peaks_pass_and_fail_with_file_line_column_and_value(tmp_path):
    good = tmp_path / "p.narrowPeak.gz"
    with gzip.open(good, "wt") as fh:
        fh.write("track name=x\nChr1\t10\t100\tp1\nChr3\t500\t600\tp2\n")
    checks.check_peaks(good, SIZES, "g.fa")
    cases = {
        "Chr1\t10\t100\nchr2\t5\t50\n": r"p.bed, line 2, column 1: chromosome 'chr2' is not in the genome g.fa \(its .fai names Chr1, Chr2, Chr3\)",
        "Chr1\t10\t100\nChr2\t5\t900\n": r"p.bed, line 2, column 3: end 900 is past the end of Chr2 \(800 bp in g.fa\)",
        "Chr1\t10\tten\n": r"p.bed, line 1, columns 2-3: start '10' and end 'ten' must be integers",
        "Chr1\t100\t10\n": r"p.bed, line 1, columns 2-3: start 100 and end 10 are not a valid interval",
        "Chr1 10 100\n": r"p.bed, line 1: expected BED \(chrom<TAB>start<TAB>end...\), got 'Chr1 10 100'",
        "# nothing\n\n": r"p.bed: no peaks",
    }
    for text, message in cases.items():
        (tmp_path / "p.bed").write_text(text)
        with pytest.raises(ValueError, match=message):
            checks.check_peaks(tmp_path / "p.bed", SIZES, "g.fa")


def test_bam_references_lengths_and_index(tmp_path):
    checks.check_bam(write_bam(tmp_path / "ok.bam", {"Chr1": 1000, "Chr3": 600}), SIZES, "g.fa")
    with pytest.raises(ValueError, match=r"chr1.bam, header line 3: reference 'chr1' is not in the genome g.fa"):
        checks.check_bam(write_bam(tmp_path / "chr1.bam", {"Chr2": 800, "chr1": 1000}), SIZES, "g.fa")
    with pytest.raises(ValueError, match=r"long.bam, header line 2: reference 'Chr1' is 1001 bp long; in the genome g.fa it is 1000 bp"):
        checks.check_bam(write_bam(tmp_path / "long.bam", {"Chr1": 1001}), SIZES, "g.fa")
    with pytest.raises(ValueError, match=r"noindex.bam: BAM has no index; expected .*noindex.bam.bai"):
        checks.check_bam(write_bam(tmp_path / "noindex.bam", {"Chr1": 1000}, index=False), SIZES, "g.fa")


def test_vcf_samples_and_contigs(tmp_path):
    vcf = write_vcf(tmp_path / "v.vcf.gz", ["A", "B"], SIZES)
    checks.check_vcf(vcf, SIZES, "ref.fa", [("v.tsv, line 2", "A"), ("v.tsv, line 3", "B")])
    with pytest.raises(ValueError, match=r"v.tsv, line 3, column 'sample': 'C' is not a sample of .*v.vcf.gz \(its header has 2: A, B\)"):
        checks.check_vcf(vcf, SIZES, "ref.fa", [("v.tsv, line 2", "A"), ("v.tsv, line 3", "C")])
    with pytest.raises(ValueError, match=r"v.tsv, line 2, column 'sample': empty, but .*v.vcf.gz has 2 samples \(A, B\)"):
        checks.check_vcf(vcf, SIZES, "ref.fa", [("v.tsv, line 2", "")])
    checks.check_vcf(write_vcf(tmp_path / "one.vcf.gz", ["A"], SIZES), SIZES, "ref.fa", [("v.tsv, line 2", "")])
    extra = write_vcf(tmp_path / "extra.vcf.gz", ["A"], {**SIZES, "ChrUn": 50})
    with pytest.raises(ValueError, match=r"extra.vcf.gz, header line 6: contig 'ChrUn' is not in the reference ref.fa"):
        checks.check_vcf(extra, SIZES, "ref.fa", [("v.tsv, line 2", "A")])
    no_lengths = write_vcf(tmp_path / "nolen.vcf.gz", ["A"], {"Chr1": None, "Chr3": None})  # ##contig=<ID=Chr1>
    checks.check_vcf(no_lengths, SIZES, "ref.fa", [("v.tsv, line 2", "A")])
    with pytest.raises(ValueError, match=r"nolen2.vcf.gz, header line 4: contig 'Chr4' is not in the reference ref.fa"):
        checks.check_vcf(write_vcf(tmp_path / "nolen2.vcf.gz", ["A"], {"Chr1": None, "Chr4": None}), SIZES, "ref.fa", [])
    other = write_vcf(tmp_path / "other.vcf.gz", ["A"], {**SIZES, "Chr2": 801})
    with pytest.raises(ValueError, match=r"other.vcf.gz, header line 4: contig 'Chr2' is 801 bp long; in the reference ref.fa 'Chr2' is 800 bp"):
        checks.check_vcf(other, SIZES, "ref.fa", [("v.tsv, line 2", "A")])


def test_other_namings_get_a_hint_and_vcfs_match_them_with_chrom_aliases(tmp_path):
    (tmp_path / "p.bed").write_text("chr01\t10\t100\n")
    with pytest.raises(ValueError, match=r"chromosome 'chr01' is not in the genome g.fa .*; it is 'Chr1' there under another naming: rename"):
        checks.check_peaks(tmp_path / "p.bed", SIZES, "g.fa")
    with pytest.raises(ValueError, match=r"reference '1' is not in the genome g.fa .*; it is 'Chr1' there under another naming"):
        checks.check_bam(write_bam(tmp_path / "ens.bam", {"1": 1000}), SIZES, "g.fa")
    vcf = write_vcf(tmp_path / "ucsc.vcf.gz", ["A"], {"chr1": 1000, "chr2": 800})
    with pytest.raises(ValueError, match=r"contig 'chr1' is not in the reference ref.fa .*; it is 'Chr1' there under another naming: set chrom_aliases: true"):
        checks.check_vcf(vcf, SIZES, "ref.fa", [("v.tsv, line 2", "A")])
    checks.check_vcf(vcf, SIZES, "ref.fa", [("v.tsv, line 2", "A")], aliases=True)
    wrong = write_vcf(tmp_path / "wrong.vcf.gz", ["A"], {"chr1": 1000, "chr02": 801})
    with pytest.raises(ValueError, match=r"contig 'chr02' is 801 bp long; in the reference ref.fa 'Chr2' is 800 bp"):
        checks.check_vcf(wrong, SIZES, "ref.fa", [("v.tsv, line 2", "A")], aliases=True)
    twice = write_vcf(tmp_path / "twice.vcf.gz", ["A"], {"chr1": 1000, "1": 1000})
    with pytest.raises(ValueError, match=r"twice.vcf.gz: chromosomes 'chr1' and '1' are both the genome's 'Chr1' \(chrom_aliases: true\)"):
        checks.check_vcf(twice, SIZES, "ref.fa", [("v.tsv, line 2", "A")], aliases=True)


def test_split_chromosomes_in_every_genome_and_some_left_to_train():
    genomes = {"t.tsv, line 2": ("a.fa", SIZES), "t.tsv, line 3": ("b.fa", {"Chr1": 10, "Chr3": 10, "Chr4": 10})}
    checks.check_split(genomes, ["Chr1"], ["Chr3"])
    with pytest.raises(ValueError, match=r"config split.valid_chroms: 'Chr2' is not a chromosome of b.fa \(t.tsv, line 3\); its .fai names Chr1, Chr3, Chr4"):
        checks.check_split(genomes, ["Chr2"], ["Chr3"])
    with pytest.raises(ValueError, match=r"hold out every chromosome of a.fa \(t.tsv, line 2\); expected at least one left to train on"):
        checks.check_split(genomes, ["Chr1", "Chr2"], ["Chr3"])
    with pytest.raises(ValueError, match=r"\['Chr1'\] are both in valid_chroms and test_chroms"):
        checks.check_split(genomes, ["Chr1"], ["Chr1"])


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
    files["peaks"].write_text("Chr1\t0\t100\nChr9\t0\t100\n")
    with pytest.raises(ValueError, match=r"p.bed, line 2, column 1: chromosome 'Chr9' is not in the genome"):
        checks.check_inputs(config, samples, varieties, "t.tsv", "v.tsv", buildable_dir=demo)
    files["peaks"].write_text("Chr1\t0\t100\n")
    write_vcf(files["vcf"], ["B"], SIZES)
    with pytest.raises(ValueError, match=r"v.tsv, line 2, column 'sample': 'A' is not a sample of"):
        checks.check_inputs(config, samples, varieties, "t.tsv", "v.tsv", buildable_dir=demo)


def test_check_inputs_cache_skips_an_unchanged_peaks_file_and_rereads_a_changed_one(tmp_path, genome):
    config = {"reference": str(genome), "split": {"valid_chroms": ["Chr1"], "test_chroms": ["Chr2"]}}
    peaks = tmp_path / "p.bed"
    peaks.write_text("Chr1\t0\t100\n")
    samples, varieties = _sheets(tmp_path, genome, peaks, write_vcf(tmp_path / "v.vcf.gz", ["A"], SIZES))
    cache = tmp_path / ".snakemake" / "checks.json"
    checks.check_inputs(config, samples, varieties, cache=cache)
    assert cache.is_file()
    # same size and modification time: the cached pass stands, the file is not read again
    stat = peaks.stat()
    peaks.write_text("Chr9\t0\t100\n")
    os.utime(peaks, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    checks.check_inputs(config, samples, varieties, cache=cache)
    # a changed file is read again
    peaks.write_text("Chr9\t0\t1000\n")
    with pytest.raises(ValueError, match=r"chromosome 'Chr9' is not in the genome"):
        checks.check_inputs(config, samples, varieties, cache=cache)
    with pytest.raises(ValueError, match=r"config reference: file not found: .*nope.fa"):
        checks.check_inputs({**config, "reference": str(tmp_path / "nope.fa")}, samples, varieties)


def test_check_inputs_reads_the_annotation_against_the_reference(tmp_path, genome):
    config = {"reference": str(genome), "split": {"valid_chroms": ["Chr1"], "test_chroms": ["Chr2"]}}
    peaks = tmp_path / "p.bed"
    peaks.write_text("Chr1\t0\t100\n")
    samples, varieties = _sheets(tmp_path, genome, peaks, write_vcf(tmp_path / "v.vcf.gz", ["A"], SIZES))
    gff = tmp_path / "genes.gff3.gz"
    gff.write_bytes(gzip.compress(b"##gff-version 3\nchr01\tt\tgene\t1\t100\t.\t+\t.\tID=g1\n"))
    with pytest.raises(ValueError, match=r"config annotation: .*genes.gff3.gz, line 2, column 1: chromosome 'chr01'"
                                         r" is not in the reference .*set chrom_aliases: true"):
        checks.check_inputs({**config, "annotation": str(gff)}, samples, varieties)
    checks.check_inputs({**config, "annotation": str(gff), "chrom_aliases": True}, samples, varieties)
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


def _break_vcf_contig(work, panel, training, varieties, config):
    config["reference"] = str(_copy_fasta_without(panel / "reference.fa", work / "ref.fa", drop=["ChrUn_scaffold1"]))
    return [r"varieties.vcf.gz, header line \d+: contig 'ChrUn_scaffold1' is not in the reference .*ref.fa"]


def _break_vcf_length(work, panel, training, varieties, config):
    config["reference"] = str(_copy_fasta_without(panel / "reference.fa", work / "ref.fa", shorten=["Chr2"]))
    n = dict(line.split("\t")[:2] for line in (panel / "reference.fa.fai").read_text().splitlines())["Chr2"]
    return [rf"varieties.vcf.gz, header line \d+: contig 'Chr2' is {n} bp long; in the reference .*ref.fa 'Chr2' is {int(n) - 10} bp"]


def _break_peaks_chrom(work, panel, training, varieties, config):
    row = training.index[(training.peaks != "") & ~training.peaks.str.endswith(".gz")][1]
    src = Path(training.loc[row, "peaks"])
    lines = src.read_text().splitlines()
    lines[1] = "chr1" + lines[1][len(lines[1].split("\t")[0]):]
    (work / src.name).write_text("\n".join(lines) + "\n")
    training.loc[row, "peaks"] = str(work / src.name)
    return [rf"{src.name}, line 2, column 1: chromosome 'chr1' is not in the genome .*{Path(training.loc[row, 'genome']).name}"]


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


@pytest.mark.parametrize("breaks", [_break_vcf_sample, _break_vcf_contig, _break_vcf_length, _break_peaks_chrom,
                                    _break_bam_genome, _break_empty_fasta, _break_split], ids=lambda f: f.__name__[7:])
def test_workflow_stops_before_any_job_on_a_broken_input(breaks, test_panel, tmp_path):
    import re

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
    import re

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


@pytest.mark.slow
def test_demo_files_are_skipped_until_the_rule_makes_them_then_checked(tmp_path):
    import re

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
    peaks.write_text("\n".join(["Chr99" + lines[0][lines[0].index("\t"):], *lines[1:]]) + "\n")
    proc = snakemake()  # the files exist now: checked, and nothing runs
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and not (tmp_path / "results").exists(), out[-3000:]
    assert re.search(r"CV03.H3K4me3.narrowPeak, line 1, column 1: chromosome 'Chr99' is not in the genome"
                     r" resources/demo/cultivars/CV03.fa", out), out[-3000:]
