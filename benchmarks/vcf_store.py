"""VCF varieties: extracting a 3,000-sample VCF once (ntpipe.vcfstore) against
reading one sample per variety (ntpipe.variants.read_variants), and the host
seconds a variety's variants cost the prediction job.

Run by ``benchmarks/run.py`` (``--only vcf`` for this part alone).
"""

import time
from pathlib import Path

import numpy as np
import pysam

from ntpipe.encoding import decode
from ntpipe.genome import chrom_sizes, encode_chrom, open_fasta, write_fasta
from ntpipe.predict import chromosome_windows
from ntpipe.variants import read_variants
from ntpipe.vcfstore import extract_variants, load_variants

PANEL_RECORDS = 32_000_000  # the 3K panel's SNPs and indels against Nipponbare
RICE_MB = 373
SPACING = 12  # bp between records: 32 M records over 373 Mb
GT_ONLY = {2: ["0/0", "1/1", "0/1", "./."], 3: ["0/0", "1/1", "0/1", "./.", "2/2", "1/2"]}
FULL = {2: ["0/0:12,0:12:0,36,400", "1/1:0,13:13:400,39,0", "0/1:6,7:13:150,0,180", "./.:.:.:."],
        3: ["0/0:12,0,0:12:0,36,400,36,400,400", "1/1:0,13,0:13:400,39,0,400,39,400", "0/1:6,7,0:13:150,0,180,150,180,400",
            "./.:.:.:.", "2/2:0,0,11:11:400,400,400,33,33,0", "1/2:0,6,6:12:400,150,150,150,0,150"]}
HEADER = ['##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
          '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">',
          '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
          '##FORMAT=<ID=PL,Number=G,Type=Integer,Description="Phred-scaled genotype likelihoods">']


def simulate_vcf(path, reference, n_samples, fields="GT", seed=0):
    """A bgzipped, indexed panel VCF against ``reference``: a record every ~12 bp
    (SNPs; 10% indels of 1-6 bp; 5% with two ALTs), allele frequencies from
    Beta(0.3, 3) (most variants rare, mean ~9%), 1% heterozygous and 5% missing
    calls. ``fields``: "GT" or "GT:AD:DP:PL". Returns the path and the record count."""
    rng = np.random.default_rng(seed)
    tables = {k: np.array([c.encode() for c in v], dtype=object) for k, v in (GT_ONLY if fields == "GT" else FULL).items()}
    fasta = open_fasta(reference)
    names = [f"IRIS_{i:05d}" for i in range(n_samples)]
    lines = ["##fileformat=VCFv4.2", *(f"##contig=<ID={c},length={n}>" for c, n in chrom_sizes(fasta)), *HEADER,
             "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *names])]
    n = 0
    with open(path, "wb") as out:
        out.write(("\n".join(lines) + "\n").encode())
        for chrom, length in chrom_sizes(fasta):
            seq = str(fasta[chrom][:])
            for pos in range(10, length - 20, SPACING):
                kind, freq = rng.random(), rng.beta(0.3, 3)
                ref = seq[pos: pos + (int(rng.integers(2, 8)) if kind < 0.05 else 1)]  # deletions
                other = "ACGT".replace(ref[0], "")
                alts = [other[rng.integers(3)]] if kind >= 0.05 else [ref[0]]
                if 0.05 <= kind < 0.10:
                    alts = [ref + decode(rng.integers(0, 4, int(rng.integers(1, 6))))]  # insertions
                if kind >= 0.95:
                    alts.append(other[(other.index(alts[0]) + 1) % 3])
                codes = (rng.random(n_samples) < freq).astype(np.int64)  # 1/1
                noise = rng.random(n_samples)
                codes[noise < 0.06] = 3  # missing
                codes[noise < 0.01] = 2  # heterozygous
                if len(alts) == 2:
                    codes[(codes == 1) & (rng.random(n_samples) < 0.3)] = 4  # 2/2
                row = f"{chrom}\t{pos + 1}\t.\t{ref}\t{','.join(alts)}\t.\tPASS\t.\t{fields}\t".encode()
                out.write(row + b"\t".join(tables[1 + len(alts)][codes]) + b"\n")
                n += 1
    return Path(pysam.tabix_index(str(path), preset="vcf", force=True)), n


def _random_reference(path, mb, n_chroms, seed):
    rng = np.random.default_rng(seed)
    return write_fasta(path, {f"Chr{i + 1}": rng.integers(0, 4, int(mb * 1e6) // n_chroms).astype(np.uint8)
                              for i in range(n_chroms)})


def bench_extraction(tmp, n_samples=3000, mb=0.24):
    """records/s: extraction (every sample) and read_variants (one sample) on a 3,000-sample VCF."""
    reference = _random_reference(tmp / "vcf_ref.fa", mb, 2, seed=11)
    rows = []
    for fields in ("GT", "GT:AD:DP:PL"):
        vcf, n = simulate_vcf(tmp / f"panel_{fields.replace(':', '')}.vcf", reference, n_samples, fields)
        t = time.perf_counter()
        store = extract_variants(vcf, reference, tmp / "store_panel", threads=1)
        extract_s = time.perf_counter() - t
        t = time.perf_counter()
        one = read_variants(vcf, "IRIS_00007", reference)
        read_s = time.perf_counter() - t
        loaded = load_variants(store, "IRIS_00007", reference)
        assert all(loaded[c].alt == one[c].alt and np.array_equal(loaded[c].pos, one[c].pos) for c in one)
        size = sum(f.stat().st_size for f in store.rglob("*") if f.is_file())
        rows.append(dict(fields=fields, samples=n_samples, records=n, vcf_mb=vcf.stat().st_size / 1e6,
                         extract_rec_s=n / extract_s, read_one_rec_s=n / read_s, store_bytes_per_record=size / n,
                         calls_per_sample=sum(len(v) for v in one.values())))
    return rows


def bench_variety(tmp, n_samples=20, mb=4.0):
    """Host seconds of one variety's variants in predict_variety: loading from the
    store and applying (its windows minus the reference's, both through
    ``chromosome_windows`` as predict_genome makes them), on a
    ``mb`` genome at the panel's density, per chromosome as predict_genome does."""
    reference = _random_reference(tmp / "variety_ref.fa", mb, 4, seed=12)
    vcf, n = simulate_vcf(tmp / "variety.vcf", reference, n_samples, "GT", seed=3)
    t = time.perf_counter()
    store = extract_variants(vcf, reference, tmp / "store_variety", threads=1)
    extract_s = time.perf_counter() - t
    fasta = open_fasta(reference)
    tokens = {c: encode_chrom(fasta, c) for c, _ in chrom_sizes(fasta)}
    best = {"load": np.inf, "apply": np.inf}
    for sample in ("IRIS_00001", "IRIS_00002", "IRIS_00003"):
        t = time.perf_counter()
        variants = load_variants(store, sample, fasta)
        best["load"] = min(best["load"], time.perf_counter() - t)
        t = time.perf_counter()
        for c, tok in tokens.items():
            chromosome_windows(tok, 1000, 100, variants[c])
        with_variants = time.perf_counter() - t
        t = time.perf_counter()
        for tok in tokens.values():
            chromosome_windows(tok, 1000, 100)
        best["apply"] = min(best["apply"], with_variants - (time.perf_counter() - t))
    applied = sum(len(v) for v in variants.values())
    scale = RICE_MB / mb
    return dict(genome_mb=mb, records=n, samples=n_samples, extract_rec_s=n / extract_s, variants=applied,
                load_s=best["load"], apply_s=best["apply"], rice_variants=applied * scale,
                rice_host_s=(best["load"] + best["apply"]) * scale)


def bench_vcf(tmp, seed_win_s):
    """The figures of this part; ``seed_win_s``: seed-preset windows/s at 1 kb on the GPU the ratio is for."""
    extraction = bench_extraction(tmp)
    variety = bench_variety(tmp)
    windows = RICE_MB * 1e6 / 100
    inference_s = windows / seed_win_s
    return dict(extraction=extraction, variety=variety, seed_win_s=seed_win_s, rice_windows=windows,
                inference_s_per_mark=inference_s, host_fraction=variety["rice_host_s"] / inference_s)


def report(r, machine):
    """Markdown lines for benchmarks/README.md; ``machine``: the run's, unless this part was run alone."""
    v, m = r["variety"], r.get("machine", machine)
    lines = ["## VCF varieties: extraction once, then a memory-mapped store", "",
             f"Measured {m['date']} on **{m['cpu']}**, {m['cores']} cores, one process per figure "
             "(`python benchmarks/run.py --only vcf` reruns this part).", "",
             "| 3,000-sample VCF | records | extraction, every sample (records/s, one process) | read_variants, one sample (records/s) "
             "| 32 M records: extraction, one core | 32 M records: read_variants, per variety | store bytes per record |",
             "|---|---|---|---|---|---|---|"]
    for row in r["extraction"]:
        lines.append(f"| {row['fields']} | {row['records']:,} | {row['extract_rec_s']:,.0f} | {row['read_one_rec_s']:,.0f} | "
                     f"{PANEL_RECORDS / row['extract_rec_s'] / 3600:.1f} h | {PANEL_RECORDS / row['read_one_rec_s'] / 60:.1f} min | "
                     f"{row['store_bytes_per_record']:.0f} |")
    gt = r["extraction"][0]
    lines += [
        "",
        "| one variety, 373 Mb at the panel's density (extrapolated) | value |",
        "|---|---|",
        f"| measured on | {v['genome_mb']:.0f} Mb, {v['records']:,} records, {v['variants']:,} applied in the sample |",
        f"| `load_variants` (store -> `{{chrom: Variants}}`) | {v['load_s'] * 1e3:.0f} ms -> {v['load_s'] * RICE_MB / v['genome_mb']:.1f} s |",
        f"| applying them (`chromosome_windows` with them minus without) | {v['apply_s'] * 1e3:.0f} ms -> "
        f"{v['apply_s'] * RICE_MB / v['genome_mb']:.1f} s |",
        f"| host seconds on variants per variety | **{v['rice_host_s']:.1f} s** ({v['rice_variants'] / 1e6:.1f} M variants) |",
        f"| seed-preset inference, one mark, 3.73 M windows at {r['seed_win_s']:,.0f} windows/s | {r['inference_s_per_mark']:.0f} s |",
        f"| variants / inference | **{100 * r['host_fraction']:.2f}%** of one mark ({100 * r['host_fraction'] / 6:.2f}% of six) |",
        "",
        VCF_PROSE.format(
            read_rate=gt["read_one_rec_s"], gt_hours=PANEL_RECORDS / gt["extract_rec_s"] / 3600,
            full_hours=PANEL_RECORDS / r["extraction"][1]["extract_rec_s"] / 3600,
            gt_wall=0.12 * PANEL_RECORDS / gt["extract_rec_s"] / 60,
            full_wall=0.12 * PANEL_RECORDS / r["extraction"][1]["extract_rec_s"] / 60,
            read_min=PANEL_RECORDS / gt["read_one_rec_s"] / 60, store_gb=gt["store_bytes_per_record"] * PANEL_RECORDS / 1e9,
            calls=gt["calls_per_sample"] / gt["records"], seed_win_s=r["seed_win_s"], host_s=v["rice_host_s"]),
    ]
    return lines


VCF_PROSE = """\
`extract_variants` reads the VCF with cyvcf2 (htslib), one process per
chromosome, and applies the genotype rule to all 3,000 samples of a record at
once in numpy (within ~75% of cyvcf2's bare parsing loop). The rates above
are one process; the 3K panel's 12 chromosomes run side by side (the rule's
12 threads), and the largest, ~12% of the records, sets the wall time:
~{gt_wall:.0f} minutes for a GT-only VCF (~{gt_hours:.1f} h of CPU in all),
~{full_wall:.0f} minutes with AD, DP and PL (~{full_hours:.1f} h; htslib
parses every field), once per panel. Reading one sample with pysam
(`read_variants`, what every `predict_variety` job did before, GPU held) runs
at {read_rate:,.0f} records/s here: ~{read_min:.0f} minutes per variety,
3,000 times. The store keeps each record's position and alleles and each
sample's calls, 3 bytes a call (the record as a 2-byte offset in its chunk of
8,192, the allele index as 1 byte); {calls:.1%} of the records are called ALT
per sample in this simulation: ~{store_gb:.0f} GB for 32 M records and 3,000
samples (it scales with that share). It is kept
(`results/variants/{{vcf}}`), so rerunning a variety reads nothing but its own
calls. A variety's variants then cost the prediction job ~{host_s:.1f} s in
all: loading through the memory maps, building the `Variants` (Python
strings: one decode per chromosome) and applying them (vectorised, best of
three samples); the ratio is against the seed preset at {seed_win_s:,.0f}
windows/s at 1 kb (400 TFLOP/s on an H100, from the GFLOP per window measured
above, unless this run measured a GPU)."""
