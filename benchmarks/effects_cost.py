"""What an effects table costs per variety (by hand): ``python benchmarks/effects_cost.py``.

Writes a reference and a variety track (two marks) for one chromosome of
``--mb`` Mb at stride 100, applies ``--per-kb`` SNPs and indels per kb, and
times :func:`ntpipe.effects.variant_effects` with the default threshold. The
reference's own tracks cost one genome's prediction, once for the panel (and
its windows fill the cache that the varieties then hit).
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from ntpipe.bigwig import BigWigWriter
from ntpipe.effects import variant_effects
from ntpipe.variants import Variants


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=40.0, help="chromosome length in Mb (rice Chr1: 43 Mb)")
    parser.add_argument("--per-kb", type=float, default=8.0, help="applied variants per kb (3K indica vs Nipponbare: ~5-10)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    length, size, stride = int(args.mb * 1e6), 1000, 100
    n_bins = -(-length // stride)
    n = int(length / 1000 * args.per_kb)
    pos = np.unique(rng.integers(0, length - 10, n))
    pos = pos[np.concatenate([[True], np.diff(pos) > 3])]  # non-overlapping
    ref = ["A"] * len(pos)
    alt = np.where(rng.random(len(pos)) < 0.85, "G", "AT").tolist()
    variants = {"Chr1": Variants(pos, ref, alt)}
    with tempfile.TemporaryDirectory() as tmp:
        tracks = {}
        for who in ("ref", "var"):
            for mark in ("H3K4me3", "H3K27me3"):
                path = Path(tmp) / f"{who}.{mark}.bw"
                values = rng.random(n_bins).astype(np.float32)
                with BigWigWriter(path, {"Chr1": length}) as w:
                    w.add_bins("Chr1", values, None, stride)
                tracks.setdefault(who, {})[mark] = str(path)
        t0 = time.perf_counter()
        table = variant_effects(variants, tracks["ref"], tracks["var"], size, stride, {"Chr1": length}, min_delta=0.1)
        elapsed = time.perf_counter() - t0
    print(f"{len(pos):,} variants x 2 marks on {args.mb:g} Mb: {elapsed:.1f} s ({len(pos) * 2 / elapsed:,.0f} variant-marks/s),"
          f" {len(table):,} rows (random tracks: most pass the threshold, a worst case for the table)")


if __name__ == "__main__":
    main()
