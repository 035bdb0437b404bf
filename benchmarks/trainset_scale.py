"""Time and peak memory of the training-data path on simulated panels (by hand).

    python benchmarks/trainset_scale.py                  # 20 cultivars x 5 and 20 Mb
    python benchmarks/trainset_scale.py --mb 5 --mb 40

Each size: a random 43%-GC reference cut into 12 chromosomes, 20 cultivars
that each carry two subpopulation SNP sets (1 per 500 bp) and private SNPs (1
per 5 kb), peaks covering about 3% of the genome; then, in a fresh process,
the workflow's steps: ``encode_genome`` for every cultivar, ``build_labels``
(every bin labelled, identical windows merged), and loading the examples with
one epoch drawn and batched; then a GC-weighted sampler's set-up and one
epoch's draw of the shipped config's 2,000 windows, beside numpy's weighted choice without replacement on the same
negatives (what the sampler used before). Peak RSS is the child's ``ru_maxrss``. The
figures scale linearly with the genome (see the written table), so the last
column extrapolates to 20 genomes of 373 Mb. Writes ``benchmarks/trainset.md``.
"""

import argparse
import datetime
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from ntpipe.encoding import decode  # noqa: E402
from ntpipe.genome import write_fasta  # noqa: E402

RICE_MB = 373
EPOCH_SIZE = 2000  # config/config.yaml's training.epoch_size
N_CHROMS = 12


def _panel(tmp, mb, n_cultivars, seed=0):
    rng = np.random.default_rng(seed)
    n = mb * 1_000_000 // N_CHROMS
    ref = [rng.choice(4, n, p=[0.285, 0.215, 0.215, 0.285]).astype(np.uint8) for _ in range(N_CHROMS)]
    subpop_snps = [[rng.choice(n, n // 500, replace=False) for _ in ref] for _ in range(2)]
    peaks = []
    for c in range(N_CHROMS):
        starts = np.sort(rng.choice(n - 2000, n // 30_000, replace=False))
        peaks += [f"Chr{c + 1}\t{s}\t{s + int(rng.integers(500, 2000))}\n" for s in starts]
    rows = []
    for k in range(n_cultivars):
        seqs = {}
        for c, chrom in enumerate(ref):
            seq = chrom.copy()
            snps = np.concatenate([subpop_snps[k % 2][c], rng.choice(n, n // 5000, replace=False)])
            seq[snps] = (seq[snps] + rng.integers(1, 4, len(snps))) % 4
            seqs[f"Chr{c + 1}"] = decode(seq)
        fa = write_fasta(tmp / f"CV{k:02d}.fa", seqs)
        bed = tmp / f"CV{k:02d}.bed"
        keep = rng.random(len(peaks)) < 0.9
        bed.write_text("".join(p for p, kept in zip(peaks, keep) if kept))
        rows.append({"cultivar": f"CV{k:02d}", "genome": str(fa), "peaks": str(bed)})
    return rows


def _child(rows, tmp, queue):
    import torch

    from ntpipe.data import EpochSampler, WindowDataset, make_loader
    from ntpipe.labels import LabelConfig
    from ntpipe.trainset import build_labels, encode_genome, gc_match_weights, load_labels

    times = {}
    t = time.perf_counter()
    encoded = {r["cultivar"]: encode_genome(r["genome"], tmp / "enc" / f"{r['cultivar']}.npy", 1000, 100) for r in rows}
    times["encode_s"] = time.perf_counter() - t
    t = time.perf_counter()
    summary = build_labels(rows, encoded, LabelConfig(), tmp / "labels.npz")
    times["labels_s"] = time.perf_counter() - t
    t = time.perf_counter()
    data = load_labels(tmp / "labels.npz")
    ds = WindowDataset(data["genomes"], data["examples"], data["offsets"], 1000, 100)
    loader = make_loader(ds, 256, sampler=EpochSampler(ds.labels, 1.0, torch.Generator().manual_seed(0)))
    windows = sum(len(y) for _, _, y in loader)
    times["epoch_load_s"] = time.perf_counter() - t
    # a weighted epoch of the shipped config's size (GC matching; hard negatives alike): set up once, then each
    # epoch's draw, beside numpy's choice
    w = gc_match_weights(data["examples"])
    t = time.perf_counter()
    sampler = EpochSampler(ds.labels, 1.0, torch.Generator().manual_seed(0), weights=w, epoch_size=EPOCH_SIZE)
    times["weighted_setup_s"] = time.perf_counter() - t
    t = time.perf_counter()
    list(sampler)
    times["weighted_epoch_s"] = time.perf_counter() - t
    t = time.perf_counter()
    np.random.default_rng(0).choice(sampler.neg, sampler.n_neg, replace=False, p=w[sampler.neg] / w[sampler.neg].sum())
    times["numpy_draw_s"] = time.perf_counter() - t
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({**summary, **times, "epoch_windows": windows, "peak_rss_mb": rss_mb,
               "labels_file_mb": (tmp / "labels.npz").stat().st_size / 2**20})


def measure(mb, n_cultivars):
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rows = _panel(tmp, mb, n_cultivars)
        queue = multiprocessing.get_context("spawn").Queue()
        proc = multiprocessing.get_context("spawn").Process(target=_child, args=(rows, tmp, queue))
        proc.start()
        result = queue.get()
        proc.join()
    return {"mb": mb, "cultivars": n_cultivars, **result}


def write_report(results, path):
    from quality import cpu_model  # here, not at the top: the spawned child would count torch's and pandas' memory

    lines = [
        "# Training data at scale",
        "",
        f"`python benchmarks/trainset_scale.py` on {cpu_model()}, "
        f"{multiprocessing.cpu_count()} cores, {datetime.date.today()}; one process.",
        "",
        "| genome | cultivars | labelled windows | examples (merged) | encode | labels | one epoch loaded "
        f"| weighted sampler: set up / an epoch's draw of {EPOCH_SIZE:,} (numpy's choice) | peak RSS | labels file |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r['mb']} Mb | {r['cultivars']} | {r['copies']:,} | {r['examples']:,} | {r['encode_s']:.1f} s | "
                     f"{r['labels_s']:.1f} s | {r['epoch_load_s']:.1f} s ({r['epoch_windows']:,} windows) | "
                     f"{r['weighted_setup_s']:.2f} s / {r['weighted_epoch_s']:.3f} s ({r['numpy_draw_s']:.2f} s) | "
                     f"{r['peak_rss_mb']:,.0f} MB | {r['labels_file_mb']:,.0f} MB |")
    if len(results) >= 2:
        a, b = results[-2], results[-1]
        per_mb = (b["peak_rss_mb"] - a["peak_rss_mb"]) / (b["mb"] - a["mb"])
        rss = b["peak_rss_mb"] + per_mb * (RICE_MB - b["mb"])
        secs = (b["encode_s"] + b["labels_s"]) * RICE_MB / b["mb"]
        lines += [
            "",
            f"Linear extrapolation to {b['cultivars']} genomes of {RICE_MB} Mb (from the last two rows): peak RSS "
            f"about {rss / 1024:.1f} GB ({per_mb:.0f} MB per Mb of genome), encode + labels about {secs / 60:.0f} min "
            "in one job. The tokens are never copied: most of that RSS is the encoded genomes "
            f"({b['cultivars']} bytes per base of genome, memory-mapped files the kernel can drop and re-read), "
            "the examples take 16 bytes each, and the per-chromosome working arrays are freed chromosome by chromosome. "
            f"A weighted epoch's draw costs {b['weighted_epoch_s']:.3f} s at the last size, numpy's choice "
            f"{b['numpy_draw_s']:.2f} s, which grows with the negatives: about "
            f"{b['numpy_draw_s'] * RICE_MB / b['mb']:.0f} s per epoch at {RICE_MB} Mb.",
        ]
    path.write_text("\n".join(lines) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mb", type=int, action="append", help="genome size in Mb (repeatable; default 5 and 20)")
    p.add_argument("--cultivars", type=int, default=20)
    p.add_argument("--out", default=str(HERE / "trainset.md"))
    args = p.parse_args(argv)
    results = [measure(mb, args.cultivars) for mb in (args.mb or [5, 20])]
    print(json.dumps(results, indent=1))
    write_report(results, Path(args.out))


if __name__ == "__main__":
    main()
