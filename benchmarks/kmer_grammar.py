"""How much of the demo truth a k-mer counter recovers: the floor the grammar sets.

Fits a k-mer logistic regression (``ntpipe.baseline``) on every bin of the
reference of a simulated panel, windows centred on the bins as the workflow
cuts them, labels from ``truth/reference.MARK.bed`` (a bin is marked where the
truth covers half of it), trained on Chr1-10 and scored on Chr12.

    python benchmarks/kmer_grammar.py --panel resources/demo          # simulated if missing
    python benchmarks/kmer_grammar.py --panel /tmp/demo --k 5 --seed 1

``--clean-negatives`` keeps only marked bins and bins whose window touches no
mark (flanks left out: the training labels at ``labels.negative_margin`` (size - stride) / 2). Prints one JSON line per mark: bin AUC/AUPRC on Chr12, positive bins, and
``cue_in_window_auc``: the AUC of "this bin's window holds a whole cue that
marks" (grammar.py), a ceiling-like figure for a model that reads only its
window (bins whose cue lies outside the window cannot be told from sequence).
"""

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ntpipe.baseline import kmer_features
from ntpipe.encoding import called_bins, pad_for_bins, sliding_windows, window_bounds
from ntpipe.genome import encode_chrom, open_fasta
from ntpipe.intervals import covered_before, merge_intervals
from ntpipe.metrics import binary_metrics
from ntpipe.grammar import K4_CUE, MARKS, TATA_OFFSET, gene_spans, promoter_states
from ntpipe.simulate import simulate
from ntpipe.steps import _bin_truth


def _cue_in_window(tokens, mark, size, stride):
    """1 where a bin's window holds a whole cue that marks (the core promoter and,
    for H3K4me3, its activating motifs): the best a model reading only its window can know."""
    p = promoter_states(tokens)
    key, span = ("k4", (K4_CUE[0], 6)) if mark == "H3K4me3" else ("k27", (TATA_OFFSET, 6))
    s, e = gene_spans(p["tss"][p[key]], p["strand"][p[key]], *span)
    lo, hi = window_bounds(len(tokens), size, stride)
    return ((lo[:, None] <= s[None, :]) & (hi[:, None] >= e[None, :])).any(axis=1).astype(np.float32)


def _bins(panel, mark, chroms, size, stride, k, clean):
    truth = pd.read_csv(panel / "truth" / f"reference.{mark}.bed", sep="\t", header=None, usecols=[0, 1, 2],
                        names=["chrom", "start", "end"], dtype={"chrom": str})
    xs, ys, cues = [], [], []
    with open_fasta(panel / "reference.fa") as fa:
        for chrom in chroms:
            tokens = encode_chrom(fa, chrom)
            windows = sliding_windows(pad_for_bins(tokens, size, stride), size, stride)
            called = called_bins(tokens, size, stride, 0.5)
            y = _bin_truth(truth, chrom, len(tokens), stride)
            if clean:  # a negative's window touches no mark, the rest is left out
                iv = truth[truth.chrom == chrom]
                s, e = merge_intervals(iv.start.to_numpy(), iv.end.to_numpy())
                lo, hi = window_bounds(len(tokens), size, stride)
                called &= (y == 1) | (covered_before(hi, s, e) - covered_before(lo, s, e) == 0)
            xs.append(kmer_features(windows[called], k=k))
            ys.append(y[called])
            cues.append(_cue_in_window(tokens, mark, size, stride)[called])
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(cues)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--panel", type=Path, default=Path("resources/demo"))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scale", default="demo")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--C", type=float, default=1.0, help="inverse L2 strength")
    p.add_argument("--size", type=int, default=1000)
    p.add_argument("--stride", type=int, default=100)
    p.add_argument("--clean-negatives", action="store_true",
                   help="score only marked bins and bins whose window touches no mark")
    args = p.parse_args(argv)
    if not (args.panel / "truth" / "reference.H3K4me3.bed").exists():
        simulate(args.panel, seed=args.seed, scale=args.scale)
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_chroms = [f"Chr{i}" for i in range(1, 11)]
    for mark in MARKS:
        x, y, _ = _bins(args.panel, mark, train_chroms, args.size, args.stride, args.k, args.clean_negatives)
        xt, yt, cue = _bins(args.panel, mark, ["Chr12"], args.size, args.stride, args.k, args.clean_negatives)
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=args.C, max_iter=2000, random_state=0)).fit(x, y)
        m = binary_metrics(yt, clf.predict_proba(xt)[:, 1])
        ceiling = binary_metrics(yt, cue)["auc"]
        print(json.dumps({"mark": mark, "k": args.k, "C": args.C, "test": "Chr12", "bins": "clean" if args.clean_negatives else "all", "auc": round(m["auc"], 4), "auprc": round(m["auprc"], 4), "cue_in_window_auc": round(ceiling, 4),
                          "train_pos": int(y.sum()), "train_bins": int(y.size), "test_pos": int(yt.sum()), "test_bins": int(yt.size)}))


if __name__ == "__main__":
    main()
