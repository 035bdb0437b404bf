"""The demo panel under other rules: marks that follow motif presence, wherever the motifs sit.

The demo's grammar (``ntpipe.grammar``) is positional: a motif acts only at
its place and orientation relative to a TSS, and decoy copies elsewhere do
nothing, so neither a k-mer counter nor a model that recalls loci reads it.
Panels met in practice may be simpler: a mark wherever its motifs cluster.
This script simulates the demo's genome, cultivars, varieties and reads
(the same seed) with such rules; the workflow then runs on it unchanged:

    git clone . /tmp/presence && cd /tmp/presence
    python benchmarks/presence_grammar.py --out resources/demo
    snakemake --cores 2 --resources gpu=1

Rules: H3K4me3 covers from 300 bp before the first to 700 bp after the last
of two or more activating motifs (either strand) with at most 400 bp between
neighbours; H3K27me3 from 500 bp before to 1,500 bp after two or more
repressive motifs with at most 1 kb between neighbours. The planted events
were laid out for the demo's grammar, so few of them change a mark here: read
the held-out metrics and the varieties' bin AUC, not the event figures.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ntpipe.grammar import ACTIVATING_MOTIFS, MARKS, REPRESSIVE_MOTIFS, motif_hits  # noqa: E402
from ntpipe.intervals import merge_intervals  # noqa: E402
from ntpipe.simulate import simulate  # noqa: E402

# mark -> (motifs, largest gap between neighbouring motifs, bases marked before the first, after the last)
RULES = {"H3K4me3": (ACTIVATING_MOTIFS, 400, 300, 700), "H3K27me3": (REPRESSIVE_MOTIFS, 1000, 500, 1500)}


def clusters(starts, gap):
    """``(first, last)`` of each run of two or more sorted starts with at most ``gap`` between neighbours."""
    starts = np.asarray(starts)
    if len(starts) < 2:
        return []
    breaks = np.flatnonzero(np.diff(starts) > gap) + 1
    return [(int(run[0]), int(run[-1])) for run in np.split(starts, breaks) if len(run) >= 2]


def presence_marks(tokens_by_chrom):
    """Mark intervals under the presence rules, in the form of :func:`ntpipe.grammar.true_marks`."""
    out = {mark: [] for mark in MARKS}
    for chrom, tokens in tokens_by_chrom.items():
        for mark, (motifs, gap, before, after) in RULES.items():
            plus, minus = motif_hits(tokens, motifs)
            runs = clusters(np.sort(np.concatenate([plus, minus])), gap)
            if not runs:
                continue
            s = np.clip([first - before for first, _ in runs], 0, len(tokens))
            e = np.clip([last + after for _, last in runs], 0, len(tokens))
            s, e = merge_intervals(s, e)
            out[mark].extend((chrom, int(a), int(b)) for a, b in zip(s, e) if b > a)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="resources/demo", help="panel directory (the demo config reads resources/demo)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scale", default="demo")
    args = p.parse_args(argv)
    simulate(args.out, seed=args.seed, scale=args.scale, rules=presence_marks)
    print(f"wrote {args.out}; now: snakemake --cores 2 --resources gpu=1")


if __name__ == "__main__":
    main()
