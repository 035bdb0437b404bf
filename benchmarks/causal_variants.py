"""Rank a panel's variants by the effects tables' |delta| against the truth: which variants change a mark.

``results/demo_effects.tsv`` judges the effects tables on the variants the
simulator planted. This script asks the wider question on any simulated panel
after the workflow has run: for every variant of every VCF variety, does that
variant alone, applied to the reference, change the truth of a mark (a called
100 bp bin flips, under the panel's rules)? The AUC of |delta| for those
variants against the variants that change no mark, per mark, with every
variant scored alone at ``min_delta`` 0 (as ``demo_effects.tsv`` does).

    python benchmarks/causal_variants.py                       # the demo, its grammar
    python benchmarks/causal_variants.py --rules presence      # after benchmarks/presence_grammar.py

Run from the workflow's directory (reads config/config.yaml, results/, the panel's sheets).
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from ntpipe.encoding import encode  # noqa: E402
from ntpipe.genome import open_fasta  # noqa: E402
from ntpipe.grammar import MARKS, true_marks  # noqa: E402
from ntpipe.sheets import load_config  # noqa: E402
from ntpipe.steps import _auc, effects_tables  # noqa: E402

FLANK = 6000  # bases either side of a variant whose truth is recomputed (the rules reach 2.5 kb)


def _coverage(intervals, n):
    cov = np.zeros(n, dtype=bool)
    for _, s, e in intervals:
        cov[s:e] = True
    return cov


def changes(rules, ref_tokens, pos, ref, alt, stride):
    """``{mark: True}`` where the variant alone flips a called bin near it (bins half covered, reference coordinates).

    An indel moves what lies past it, so a mark boundary beyond it moves by the indel's length without the
    variant changing the mark: a bin counts as flipped only when its covered fraction also moves by more than
    that length (SNPs: any flip). Deleted bases take the mark when both their neighbours have it, as the
    simulator lifts a variety's marks to the reference.
    """
    lo = max(0, (pos - FLANK) // stride * stride)
    hi = min(len(ref_tokens), pos + len(ref) + FLANK)
    before = ref_tokens[lo:hi]
    after = np.concatenate([ref_tokens[lo:pos], encode(alt), ref_tokens[pos + len(ref):hi]])
    truth_before, truth_after = rules({"r": before}), rules({"r": after})
    shift = len(alt) - len(ref)
    k = pos - lo  # the variant's start in the region
    j = k + min(len(ref), len(alt))  # the first base past the alleles' shared length, in the variant's sequence
    nb = len(before) // stride
    out = {}
    for mark in MARKS:
        a, b = _coverage(truth_before[mark], len(before)), _coverage(truth_after[mark], len(after))
        past = b[k + len(alt):]  # bases after the variant, shifted back by the indel
        deleted = np.full(max(0, -shift), bool(b[j - 1] and len(past) and past[0]) if j > 0 else False)
        b_on_ref = np.concatenate([b[:j], deleted, past])[: len(a)]
        frac_a = a[: nb * stride].reshape(nb, stride).mean(1)
        frac_b = b_on_ref[: nb * stride].reshape(nb, stride).mean(1)
        flipped = ((frac_a >= 0.5) != (frac_b >= 0.5)) & (np.abs(frac_a - frac_b) > abs(shift) / stride)
        out[mark] = bool(flipped[10:-10].any())  # the region's cut ends are the same before and after: skip them anyway
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rules", choices=["demo", "presence"], default="demo")
    p.add_argument("--config", default="config/config.yaml")
    args = p.parse_args(argv)
    if args.rules == "presence":
        from presence_grammar import presence_marks as rules
    else:
        rules = true_marks
    cfg = load_config(args.config)  # as the workflow reads it: the demo's settings on the demo's panel
    stride = cfg["window"]["stride"]
    varieties = pd.read_csv(cfg["varieties"], sep="\t", dtype=str, keep_default_na=False).to_dict("records")
    marks = sorted(MARKS)
    tables = effects_tables(varieties, marks, "results/tracks", stride, cfg["reference"], "results/reference",
                            cfg["window"]["size"], [f"results/models/{m}/model.pt" for m in marks],
                            cfg.get("prediction"), "results/cache")
    fasta = open_fasta(cfg["reference"])
    ref_tokens = {c: encode(str(fasta[c][:])) for c in fasta.keys()}
    rows, truth = [], {}
    for variety, table in tables.items():
        for r in table.itertuples():
            key = (r.chrom, r.pos, r.ref, r.alt)
            if key not in truth:
                truth[key] = changes(rules, ref_tokens[r.chrom], r.pos - 1, r.ref, r.alt, stride)
            t = truth[key]
            rows.append({"variety": variety, "mark": r.mark, "snp": len(r.ref) == len(r.alt) == 1,
                         "changes_mark": t[r.mark], "changes_any": any(t.values()), "abs_delta": abs(r.delta)})
    df = pd.DataFrame(rows)
    for mark, g in df.groupby("mark"):
        y, score = g.changes_mark.to_numpy(), g.abs_delta.to_numpy()
        keep = y | ~g.changes_any.to_numpy()  # against the variants that change no mark
        snp = g.snp.to_numpy()
        print(json.dumps({"mark": mark, "rules": args.rules, "changing": int(y.sum()), "other": int((~g.changes_any).sum()),
                          "changing_snps": int((y & snp).sum()), "auc_abs_delta": round(_auc(y, score, keep), 3),
                          "auc_snps_only": round(_auc(y, score, keep & snp), 3),
                          "median_changing": round(float(np.median(score[y])), 4) if y.any() else None,
                          "median_other": round(float(np.median(score[~g.changes_any.to_numpy()])), 4)}))


if __name__ == "__main__":
    main()
