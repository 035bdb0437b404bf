"""Screen training/model settings on a few folds of the real sequence sets.

Each variant trains on the same folds (``ntpipe.train.fold_splits``, seed 0)
and is judged on the held-out fold only. One JSON line per (set, variant,
fold) is appended to ``--log``; ``--report`` rewrites ``benchmarks/ablations.md``
from that log.

    python benchmarks/ablate.py --sets H3K27me3 --run-folds 0,1 \\
        --variant base --variant nmute18:nmute=18 --variant wd:weight_decay=0.01
    python benchmarks/ablate.py --report
"""

import argparse
import datetime
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from quality import SETS, cpu_model, machine  # noqa: E402

from ntpipe.baseline import kmer_logistic  # noqa: E402
from ntpipe.config import parse_settings  # noqa: E402
from ntpipe.data import read_table  # noqa: E402
from ntpipe.files import atomic_path  # noqa: E402
from ntpipe.train import _configs, _subset, fit, fold_splits  # noqa: E402

log = logging.getLogger("ablate")


def parse_variant(text):
    """``name:key=value,key=value`` (or just ``name`` for the preset as it is) -> (name, overrides)."""
    name, _, rest = text.partition(":")
    pairs = [p for p in rest.split(",") if p]
    return name, parse_settings(pairs)


def run(args):
    torch.set_num_threads(args.threads)
    folds = [int(f) for f in args.run_folds.split(",")]
    for key in args.sets.split(","):
        path = Path(args.data) / SETS[key]
        data = read_table(path)
        splits = fold_splits(data[2], args.folds, seed=0)
        for text in args.variant:
            name, overrides = parse_variant(text)
            mcfg, tcfg = _configs(args.preset, data[0], None, None, 0, overrides)
            for i in folds:
                train_idx, valid_idx = splits[i]
                train, valid = _subset(data, train_idx), _subset(data, valid_idx)
                t0 = time.time()
                if name == "kmer4-LR":
                    m = kmer_logistic(train, valid, k=4)
                    m.update(best_epoch=None, epochs_run=None)
                else:
                    with tempfile.TemporaryDirectory() as tmp:
                        m = fit(train, valid, mcfg, tcfg, tmp, device="cpu")
                row = {"set": key, "variant": name, "overrides": overrides, "preset": args.preset, "fold": i,
                       "folds": args.folds, "auc": m["auc"], "auprc": m["auprc"], "acc": m["acc"], "mcc": m["mcc"],
                       "best_epoch": m["best_epoch"], "epochs_run": m["epochs_run"], "seconds": round(time.time() - t0, 1),
                       "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "cpu": cpu_model()}
                log.info("%s", json.dumps(row))
                with open(args.log, "a") as fh:
                    fh.write(json.dumps(row) + "\n")


# when the rows logged without a date were last reported (all were measured by then), and where: every row
# logged before rows named their CPU was measured on the AMD machines of those sessions
UNDATED = "2026-11-24 03:52"
UNNAMED_CPU = "AMD EPYC"


def report(args):
    logs = args.logs or [args.log]
    rows = [json.loads(line) for path in logs for line in Path(path).read_text().splitlines() if line.strip()]
    latest = max((r.get("date", UNDATED) for r in rows), default=UNDATED)
    # a report measures nothing: its header dates the newest logged row and names the rows' CPUs, not the rewrite's
    cpus = list(dict.fromkeys(r.get("cpu", UNNAMED_CPU) for r in rows)) or [UNNAMED_CPU]
    measured = machine(args.threads, when=f"up to {latest}", cpus=cpus)
    groups = {}
    for r in rows:
        groups.setdefault((r["set"], r["variant"], json.dumps(r["overrides"], sort_keys=True), r["folds"]), []).append(r)
    lines = ["# Ablations on the real sequence sets", "", measured, "",
             "Every row: held-out folds of the stratified, seeded 5-fold split (`ntpipe.train.fold_splits`, seed 0), "
             "the same folds for every variant (compare variants fold by fold; means over different folds are "
             "not comparable). Settings are overrides of the `small` preset. Each model is early-stopped on the "
             "fold it is scored on, as `ntpipe train --folds` does. s/fold: mean wall time per fold, one torch "
             "thread on a machine shared with other jobs (load average 4-10 on 2 cores), so times are upper bounds. "
             f"Produced by `python benchmarks/ablate.py` (logs: {', '.join(f'`{os.path.basename(p)}`' for p in logs)}); "
             "the commands are listed below the tables.", ""]
    for key in dict.fromkeys(k[0] for k in groups):
        fold_ids = sorted({r["fold"] for k, rs in groups.items() if k[0] == key for r in rs})
        lines += [f"## {key}", "", "| variant | settings | " + " | ".join(f"AUC fold {i}" for i in fold_ids)
                  + " | mean AUC | mean AUPRC | mean acc | mean MCC | epochs best/run | s/fold |",
                  "|---|---|" + "---|" * len(fold_ids) + "---|---|---|---|---|---|"]
        for (k, name, ov, nfolds), rs in groups.items():
            if k != key:
                continue
            by_fold = {r["fold"]: r for r in rs}
            mean = {m: np.mean([r[m] for r in rs]) for m in ("auc", "auprc", "acc", "mcc", "seconds")}
            epochs = ", ".join(f"{r['best_epoch']}/{r['epochs_run']}" for r in rs) if rs[0]["best_epoch"] else "-"
            settings = ", ".join(f"{a}={json.dumps(b)}" for a, b in json.loads(ov).items()) or "(preset)"
            per_fold = " | ".join(f"{by_fold[i]['auc']:.4f}" if i in by_fold else "-" for i in fold_ids)
            lines.append(f"| {name} | {settings} | {per_fold} | {mean['auc']:.4f} | {mean['auprc']:.4f} | "
                         f"{mean['acc']:.4f} | {mean['mcc']:.4f} | {epochs} | {mean['seconds']:.0f} |")
        lines.append("")
    if args.notes and os.path.exists(args.notes):
        lines += [Path(args.notes).read_text()]
    with atomic_path(args.out) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data"))
    p.add_argument("--sets", default="H3K27me3,ecoli")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--run-folds", default="0,1", help="which folds of --folds to run (comma-separated)")
    p.add_argument("--preset", default="small")
    p.add_argument("--variant", action="append", default=[], help="name:key=value,... (repeat); name kmer4-LR = the baseline")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--log", default=str(HERE / "ablations.jsonl"))
    p.add_argument("--report", action="store_true", help="rewrite --out from --logs (default: --log) and stop")
    p.add_argument("--logs", nargs="*", help="logs to report (default: --log)")
    p.add_argument("--notes", default=str(HERE / "ablations_notes.md"), help="text appended below the tables")
    p.add_argument("--out", default=str(HERE / "ablations.md"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("ntpipe").setLevel(logging.WARNING)
    report(args) if args.report else run(args)


if __name__ == "__main__":
    main()
