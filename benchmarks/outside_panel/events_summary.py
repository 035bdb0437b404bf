#!/usr/bin/env python3
"""Summarise score.py's events.tsv, split by where each event came from.

events.tsv holds, for every truth domain a variety lost or gained against the reference, the
reference's and the variety's mean track over it and whether the variety's moved the right way.
Each event is put down to the planted motif variants the variety carries within 2.1 kb of it
(truth/planted.tsv): "private" (one of them private to the variety), "shared", or "none".

Run from the repository root after score.py (needs pandas, as in the ntpipe venv):
    .venv/bin/python benchmarks/outside_panel/events_summary.py --panel benchmarks/data/outside_panel --scores benchmarks/data/outside_panel_scores
"""
import argparse
import os

import pandas as pd


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--panel", default="benchmarks/data/outside_panel", help="make_panel.py's --out")
    ap.add_argument("--scores", default="benchmarks/data/outside_panel_scores", help="score.py's --out")
    a = ap.parse_args()
    e = pd.read_csv(os.path.join(a.scores, "events.tsv"), sep="\t")
    e["delta"] = e.variety_track - e.ref_track
    p = pd.read_csv(os.path.join(a.panel, "truth", "planted.tsv"), sep="\t")

    def src(r):
        q = p[(p.chrom == r.chrom) & (p.pos1 - 1 >= r.start - 2100) & (p.pos1 - 1 < r.end + 2100)]
        q = q[q.carriers.str.split(",").apply(lambda c: r.variety in c)]
        return "none" if len(q) == 0 else ("private" if (q["mode"] == "private").any() else "shared")

    e["mode"] = e.apply(src, axis=1)
    print(e.groupby(["mark", "kind"]).agg(n=("right_way", "size"), right=("right_way", "sum"),
                                          median_delta=("delta", "median"),
                                          mean_abs=("delta", lambda x: x.abs().mean())))
    print(e.groupby(["mark", "kind", "mode"]).right_way.agg(["size", "sum"]))


if __name__ == "__main__":
    main()
