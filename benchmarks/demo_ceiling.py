"""What the demo's labels allow: ceilings for the hold-out AUC in ``metrics.json`` (by hand).

For each mark, on the test chromosome of the config's split, against the
training labels (``results/labels/{mark}.npz``; keep them with ``snakemake
--notemp results/labels/H3K4me3.npz results/labels/H3K27me3.npz``), a fixed
draw of examples as ``ntpipe.trainset.eval_subset`` makes it:

- ``grammar_window_{size}``: the AUC of the grammar itself (``ntpipe.grammar``,
  the simulator's truth) read on a window of ``size`` bp centred on the
  example's bin: 1 where the truth of that window alone marks the central
  base. At the labels' own window size it is what a perfect model of that
  window could reach; at 6 kb, with the whole cue in view, what the labels'
  own noise (peaks called from reads, shifted or missed) allows.
- ``motif_count_lr``: a logistic regression on 15 position-free counts (each
  activating and repressive motif of the grammar on either strand, and core
  promoters) in the window, fitted on the training chromosomes: what a model
  that had found the grammar's words, and nothing of where they sit, reaches.
- ``negatives_with_core_promoter`` / ``negatives_with_activating_motif``: how
  many unmarked training windows hold a core promoter or an activating motif
  (the grammar's decoys: a word's presence alone does not mark);
  ``copies_per_example``: labelled windows merged per training example
  (windows merge only when identical across cultivars).

    python benchmarks/demo_ceiling.py                 # in a finished demo directory
    python benchmarks/demo_ceiling.py --n 1000

Prints one JSON line per mark (benchmarks/ablations.md, "What the demo's labels allow").
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ntpipe.grammar import ACTIVATING_MOTIFS, MARKS, REPRESSIVE_MOTIFS, core_promoters, motif_hits, true_marks  # noqa: E402
from ntpipe.data import WindowDataset  # noqa: E402
from ntpipe.metrics import binary_metrics  # noqa: E402
from ntpipe.sheets import load_config  # noqa: E402
from ntpipe.trainset import eval_subset, load_labels, split_by_chrom  # noqa: E402

SIZES = (2000, 3000, 4000, 6000)


def windows(data, examples, size):
    """Per example: tokens of ``size`` bp centred on its window (clipped at its chromosome's
    padded ends in the encoded genome) and the centre's index in them."""
    starts = WindowDataset(data["genomes"], examples, data["offsets"], data["size"], data["stride"]).starts
    for example, start in zip(examples, starts):
        genome, offsets = data["genomes"][example["cultivar"]], data["offsets"][example["cultivar"]]
        chrom_end = min([o for o in offsets if o > start] + [len(genome)])
        centre = int(start) + data["size"] // 2
        lo = max(int(offsets[example["chrom"]]), centre - size // 2)
        yield np.asarray(genome[lo : min(chrom_end, centre + size // 2)]), centre - lo


def grammar_marks(data, examples, mark, size):
    """1 where the grammar, reading only ``size`` bp around the example, marks its central base."""
    out = np.zeros(len(examples))
    for i, (tokens, centre) in enumerate(windows(data, examples, size)):
        out[i] = any(s <= centre < e for _, s, e in true_marks({"w": tokens})[mark])
    return out


def motif_counts(data, examples):
    """Counts of each grammar motif per strand and of core promoters, in each example's window."""
    rows = []
    for tokens, _ in windows(data, examples, data["size"]):
        counts = [len(hits) for word in ACTIVATING_MOTIFS + REPRESSIVE_MOTIFS for hits in motif_hits(tokens, (word,))]
        rows.append(counts + [len(core_promoters(tokens)[0])])
    return np.array(rows, dtype=float)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml", type=Path)
    parser.add_argument("--n", type=int, default=3000, help="examples per split drawn for the figures")
    args = parser.parse_args()
    split = load_config(args.config)["split"]  # as the workflow reads it: the demo's settings on the demo's panel
    for mark in MARKS:
        data = load_labels(f"results/labels/{mark}.npz")
        parts = split_by_chrom(data, split["valid_chroms"], split["test_chroms"])
        train, test = eval_subset(parts["train"], 2 * args.n, 0), eval_subset(parts["test"], args.n, 0)
        y = test["target"] >= 0.5
        result = {"mark": mark, "window": data["size"], "test_examples": len(test), "test_marked": int(y.sum())}
        for size in SIZES:
            result[f"grammar_window_{size}"] = round(binary_metrics(y, grammar_marks(data, test, mark, size))["auc"], 3)
        lr = LogisticRegression(max_iter=2000).fit(motif_counts(data, train), train["target"] >= 0.5)
        result["motif_count_lr"] = round(binary_metrics(y, lr.predict_proba(motif_counts(data, test))[:, 1])["auc"], 3)
        negatives = parts["train"][parts["train"]["target"] < 0.5]
        negatives = negatives[np.random.default_rng(0).choice(len(negatives), min(len(negatives), args.n), replace=False)]
        counts = motif_counts(data, negatives)
        result["negatives_with_core_promoter"] = round(float((counts[:, -1] > 0).mean()), 2)
        result["negatives_with_activating_motif"] = round(float((counts[:, : 2 * len(ACTIVATING_MOTIFS)].sum(1) > 0).mean()), 2)
        result["copies_per_example"] = round(float(parts["train"]["copies"].mean()), 2)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
