"""What an effects table costs per variety (by hand): ``python benchmarks/effects_cost.py``.

One random reference chromosome of ``--mb`` Mb with ``--per-kb`` SNPs and
1 bp insertions per kb, a reference track and a variety track (two marks,
stride 100) that differ by 0.3 on ``--moved`` of the bins (in 2 kb blocks),
and the small preset's model (untrained: the cost does not depend on the
weights) at 1 kb windows. Times :func:`ntpipe.effects.variant_effects` with
the default threshold: the variants in moved windows are scored alone, one
model window per bin that holds them; and, apart, the cutting of those
windows (:func:`ntpipe.effects.single_variant_windows`, no model). No window
cache here: in the workflow a variant shared by many varieties is predicted
once for the panel.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ntpipe.bigwig import BigWigWriter
from ntpipe.config import model_config
from ntpipe.effects import single_variant_windows, variant_effects
from ntpipe.encoding import decode
from ntpipe.genome import open_fasta, write_fasta
from ntpipe.infer import predict_windows
from ntpipe.model import from_config
from ntpipe.variants import Variants


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=2.0, help="chromosome length in Mb (rice Chr1: 43 Mb)")
    parser.add_argument("--per-kb", type=float, default=8.0, help="applied variants per kb (3K indica vs Nipponbare: ~5-10)")
    parser.add_argument("--moved", type=float, default=0.05, help="fraction of bins where the variety's track moves")
    args = parser.parse_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    length, size, stride = int(args.mb * 1e6), 1000, 100
    n_bins = -(-length // stride)
    tokens = rng.integers(0, 4, length).astype(np.uint8)
    pos = np.unique(rng.integers(0, length - 10, int(length / 1000 * args.per_kb)))
    pos = pos[np.concatenate([[True], np.diff(pos) > 3])]  # non-overlapping
    ref = [decode(tokens[p : p + 1]) for p in pos]
    alt = [("C" if r != "C" else "G") if rng.random() < 0.85 else r + "T" for r in ref]
    variants = {"Chr1": Variants(pos, ref, alt)}
    model = from_config(model_config("small")).eval()
    with tempfile.TemporaryDirectory() as tmp:
        fasta = open_fasta(write_fasta(Path(tmp) / "ref.fa", {"Chr1": decode(tokens)}))
        blocks = rng.random(-(-n_bins // 20)) < args.moved
        moved = np.repeat(blocks, 20)[:n_bins]
        tracks = {}
        for mark in ("H3K4me3", "H3K27me3"):
            values = rng.random(n_bins).astype(np.float32) * 0.6
            for who, v in (("ref", values), ("var", values + 0.3 * moved)):
                path = Path(tmp) / f"{who}.{mark}.bw"
                with BigWigWriter(path, {"Chr1": length}) as w:
                    w.add_bins("Chr1", v.astype(np.float32), None, stride)
                tracks.setdefault(who, {})[mark] = str(path)
        windows = []

        def predict(padded, starts):
            windows.append(len(starts))
            return predict_windows([model, model], padded, starts, size)

        t0 = time.perf_counter()
        table = variant_effects(variants, fasta, predict, tracks["ref"], tracks["var"], size, stride, min_delta=0.1)
        elapsed = time.perf_counter() - t0
        t0 = time.perf_counter()
        padded, starts, _, _ = single_variant_windows(tokens, variants["Chr1"], np.arange(len(pos)), size, stride)
        cut = time.perf_counter() - t0
    n = sum(windows)
    print(f"{len(pos):,} variants on {args.mb:g} Mb, {moved.mean():.0%} of bins moved: {n:,} windows scored alone"
          f" ({n / len(pos):.2f} per variant), {elapsed:.1f} s ({n / elapsed:,.0f} windows/s for two marks), {len(table):,} rows")
    print(f"cutting every variant's windows alone (no model): {len(starts):,} windows in {cut:.2f} s"
          f" ({len(pos) / cut:,.0f} variants/s, {len(padded) / len(pos):,.0f} bases per variant)")


if __name__ == "__main__":
    main()
