"""Start-up cost of the workflow (`snakemake -n`) on a 3,000-variety sheet.

    python benchmarks/startup.py DIR [--varieties 3000] [--layout multi|single]

Simulates the test panel into DIR/panel, writes DIR/varieties.tsv with
``--varieties`` VCF varieties (``multi``: one bgzipped VCF holding every
sample, as the 3K panel ships; ``single``: one VCF file per variety, the
worst case for header reads) and DIR/config.yaml, then times
``snakemake -n`` from DIR three times (the first run fills the checks' cache,
the later ones read it) and prints the seconds, wall clock and CPU (user +
system of the snakemake process: the steadier figure on a shared machine).
"""

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import pysam
import yaml

REPO = Path(__file__).resolve().parent.parent


def write_vcf(path, samples, contigs):
    header = pysam.VariantHeader()
    for name, length in contigs:
        header.contigs.add(name, length=length)
    header.formats.add("GT", 1, "String", "Genotype")
    for s in samples:
        header.add_sample(s)
    plain = path.with_suffix("")  # x.vcf.gz -> x.vcf
    with pysam.VariantFile(str(plain), "w", header=header):
        pass
    pysam.tabix_index(str(plain), preset="vcf", force=True)  # bgzips to x.vcf.gz, writes x.vcf.gz.tbi


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", type=Path)
    ap.add_argument("--varieties", type=int, default=3000)
    ap.add_argument("--layout", choices=["multi", "single"], default="multi")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    work = args.dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    panel = work / "panel"
    if not (panel / "training.tsv").exists():
        subprocess.run(["ntpipe", "simulate", "--out", str(panel), "--scale", "test", "--seed", "1"], check=True)
    fai = [line.split("\t")[:2] for line in (panel / "reference.fa.fai").read_text().splitlines()]
    contigs = [(name, int(length)) for name, length in fai]
    names = [f"IRIS_{i:05d}" for i in range(args.varieties)]
    rows = ["variety\tgenome\tvcf\tsample"]
    if args.layout == "multi":
        vcf = work / "vcf" / "all.vcf.gz"
        vcf.parent.mkdir(exist_ok=True)
        write_vcf(vcf, names, contigs)
        rows += [f"{n}\t\t{vcf}\t{n}" for n in names]
    else:
        (work / "vcf").mkdir(exist_ok=True)
        for n in names:
            vcf = work / "vcf" / f"{n}.vcf.gz"
            if not vcf.exists():
                write_vcf(vcf, [n], contigs)
            rows.append(f"{n}\t\t{vcf}\t")
    (work / "varieties.tsv").write_text("\n".join(rows) + "\n")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(samples=str(panel / "training.tsv"), varieties=str(work / "varieties.tsv"),
                  reference=str(panel / "reference.fa"), split={"valid_chroms": ["Chr9"], "test_chroms": ["Chr10"]},
                  demo={"outdir": str(work / "no-demo")}, annotation=str(panel / "truth" / "genes.gff3"))
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    for run in range(args.runs):
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-q", "-s", str(REPO / "Snakefile"),
                               "--directory", str(work), "--configfile", str(work / "config.yaml"), "--cores", "2"],
                              capture_output=True, text=True)
        took = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
        if proc.returncode:
            sys.exit(proc.stdout[-2000:] + proc.stderr[-4000:])
        print(f"run {run + 1}: snakemake -n, {args.varieties} varieties ({args.layout} VCF): {took:.1f} s wall,"
              f" {cpu:.1f} s CPU", flush=True)


if __name__ == "__main__":
    main()
