"""The README's figure of one lost and one gained mark (by hand, after `make demo`).

Picks, among the demo's planted variants that the effects tables list, the
lost and the gained mark with the largest |delta|, and plots the variety's
track against the reference's around each, with the variant and the gene.

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


def pick(events, results):
    """The strongest listed planted variant per effect (lost, gained)."""
    rows = []
    for ev in events.itertuples():
        path = results / "effects" / f"{ev.variety}.tsv"
        if not path.exists():
            continue
        table = pd.read_csv(path, sep="\t", keep_default_na=False)
        hit = table[(table.chrom == ev.chrom) & (table.pos == ev.ref_pos + 1) & (table.mark == ev.mark)]
        if len(hit):
            rows.append({**ev._asdict(), **hit.iloc[0][["ref", "alt", "ref_prob", "var_prob", "delta", "gene", "gene_distance"]].to_dict()})
    found = pd.DataFrame(rows)
    if found.empty:
        raise SystemExit("no planted variant is listed in results/effects/*.tsv: run make demo first")
    want = {"lost": found.delta.idxmin(), "gained": found.delta.idxmax()}
    return [found.loc[i] for e, i in want.items() if (found.loc[i, "delta"] < 0) == (e == "lost")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results", type=Path)
    parser.add_argument("--demo", default="resources/demo", type=Path)
    parser.add_argument("--stride", default=100, type=int)
    parser.add_argument("--flank", default=4000, type=int)
    parser.add_argument("--out", default="docs/effects_example.png", type=Path)
    args = parser.parse_args()
    events = pd.read_csv(args.demo / "events.tsv", sep="\t", dtype={"chrom": str})
    genes = pd.read_csv(args.demo / "truth" / "genes.tsv", sep="\t", dtype={"chrom": str})
    picks = pick(events, args.results)
    fig, axes = plt.subplots(len(picks), 1, figsize=(8, 2.6 * len(picks)), squeeze=False)
    for ax, ev in zip(axes[:, 0], picks):
        lo = max(0, (ev.ref_pos - args.flank) // args.stride)
        hi = (ev.ref_pos + args.flank) // args.stride
        x = np.arange(lo, hi) * args.stride / 1e3
        ref = read_bins(args.results / "reference" / f"{ev.mark}.bw", ev.chrom, args.stride)[lo:hi]
        var = read_bins(args.results / "tracks" / ev.variety / f"{ev.mark}.bw", ev.chrom, args.stride)[lo:hi]
        ax.fill_between(x, 0, ref, step="post", color="0.75", label="reference (Nipponbare-like)")
        ax.step(x, var, where="post", color="tab:red" if ev.delta < 0 else "tab:blue", label=ev.variety)
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
        ax.set_title(f"{ev.effect} in {ev.variety}: {ev.chrom}:{ev.ref_pos + 1} {ev.ref}>{ev.alt}, delta {ev.delta:+.2f}",
                     fontsize=9)
        ax.legend(fontsize=7, loc="upper left", frameon=False)
    axes[-1, 0].set_xlabel(f"{picks[-1].chrom} (kb, reference coordinates)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(args.out)


if __name__ == "__main__":
    main()
