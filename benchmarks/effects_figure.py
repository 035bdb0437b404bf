"""The README's figure of one lost and one gained mark (by hand, after `make demo`).

Picks, among the demo's planted variants, the lost and the gained mark whose
carrier's track moved most against the other varieties' (demo_events.tsv),
and plots the variety's track against the reference's around each, with the
variant and the genes.

    python benchmarks/effects_figure.py            # -> docs/effects_example.png
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ntpipe.bigwig import read_bins  # noqa: E402


def pick(demo, results):
    """The lost and the gained mark whose carrier's track moved most against
    the other varieties' (``results/demo_events.tsv``), with the variant."""
    import pysam

    events = pd.read_csv(demo / "events.tsv", sep="\t", dtype={"chrom": str})
    scored = pd.read_csv(results / "demo_events.tsv", sep="\t", dtype={"chrom": str})
    both = scored.merge(events, on=["variety", "mark", "chrom", "ref_start", "ref_end", "effect"])
    both["moved"] = both.carrier_mean - both.others_mean
    picks = [both.loc[both[both.effect == "lost"].moved.idxmin()].copy(), both.loc[both[both.effect == "gained"].moved.idxmax()].copy()]
    with pysam.VariantFile(str(demo / "varieties.vcf.gz")) as vcf:
        for ev in picks:
            rec = next(r for r in vcf.fetch(ev.chrom, ev.ref_pos, ev.ref_pos + 1) if r.start == ev.ref_pos)
            ev["ref"], ev["alt"] = rec.ref, rec.alts[0]
    return picks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results", type=Path)
    parser.add_argument("--demo", default="resources/demo", type=Path)
    parser.add_argument("--stride", default=100, type=int)
    parser.add_argument("--flank", default=4000, type=int)
    parser.add_argument("--out", default="docs/effects_example.png", type=Path)
    args = parser.parse_args()
    genes = pd.read_csv(args.demo / "truth" / "genes.tsv", sep="\t", dtype={"chrom": str})
    picks = pick(args.demo, args.results)
    fig, axes = plt.subplots(len(picks), 1, figsize=(8, 2.6 * len(picks)), squeeze=False)
    for ax, ev in zip(axes[:, 0], picks):
        ref = read_bins(args.results / "reference" / f"{ev.mark}.bw", ev.chrom, args.stride)
        var = read_bins(args.results / "tracks" / ev.variety / f"{ev.mark}.bw", ev.chrom, args.stride)
        lo = max(0, (ev.ref_pos - args.flank) // args.stride)
        hi = min(len(ref), len(var), (ev.ref_pos + args.flank) // args.stride)  # a variant near the chromosome's end
        x = np.arange(lo, hi) * args.stride / 1e3
        ref, var = ref[lo:hi], var[lo:hi]
        ax.fill_between(x, 0, ref, step="post", color="0.75", label="reference (Nipponbare-like)")
        ax.step(x, var, where="post", color="tab:red" if ev.effect == "lost" else "tab:blue", label=ev.variety)
        ax.axvline(ev.ref_pos / 1e3, color="k", ls="--", lw=0.8)
        ax.text(ev.ref_pos / 1e3, 1.02, f" {ev.ref}>{ev.alt}", fontsize=8, va="bottom")
        near = genes[(genes.chrom == ev.chrom) & (genes.end > lo * args.stride) & (genes.start < hi * args.stride)]
        for g in near.itertuples():
            ax.plot([g.start / 1e3, g.end / 1e3], [-0.08, -0.08], color="k", lw=3, solid_capstyle="butt")
            ax.annotate("", xy=(g.tss / 1e3 + (0.3 if g.strand == "+" else -0.3), -0.08), xytext=(g.tss / 1e3, -0.08),
                        arrowprops={"arrowstyle": "->", "lw": 0.8})
            ax.text(g.start / 1e3, -0.2, g.gene, fontsize=7)
        ax.set_ylim(-0.28, 1.12)
        ax.set_xlim(x[0], x[-1])
        ax.set_ylabel(f"{ev.mark}\nprobability")
        truth = f"{ev.mark} {ev.effect} over {ev.chrom}:{ev.ref_start + 1}-{ev.ref_end} (simulated truth)"
        ax.axvspan(ev.ref_start / 1e3, ev.ref_end / 1e3, color="gold", alpha=0.25, lw=0)
        ax.set_title(f"{ev.variety}, {ev.chrom}:{ev.ref_pos + 1} {ev.ref}>{ev.alt}: {truth}", fontsize=9)
        ax.legend(fontsize=7, loc="upper left", frameon=False)
    axes[-1, 0].set_xlabel(f"{picks[-1].chrom} (kb, reference coordinates)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(args.out)


if __name__ == "__main__":
    main()
