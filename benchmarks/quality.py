"""Model quality on real sequence sets, beside a 4-mer logistic regression (``make quality``).

    make quality                                    # every set, 5-fold CV, small preset
    python benchmarks/quality.py --sets ecoli,H3K27me3 --folds 5 --set nmute=18 --set pool=2
    python benchmarks/quality.py --demo-results results   # adds the demo's figures when they exist
    python benchmarks/quality.py --device cuda --preset seed --sets ecoli   # on a GPU (issue #10's seed-preset run)

For each set, ``ntpipe.train.train_table(..., folds=K)`` trains K models (the
stratified, seeded folds of ``ntpipe.train.fold_splits``) and the 4-mer
logistic regression of ``ntpipe.baseline`` is scored on exactly the same
held-out folds. Writes ``quality.md`` and ``quality.json`` into ``--out``.
The sets are read from ``--data`` (default ``../shared/data`` beside the
repository), never copied into the project.
"""

import argparse
import datetime
import json
import logging
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from ntpipe.baseline import kmer_logistic_folds  # noqa: E402
from ntpipe.config import parse_settings  # noqa: E402
from ntpipe.data import read_table  # noqa: E402
from ntpipe.files import atomic_path  # noqa: E402
from ntpipe.train import fold_splits, train_table  # noqa: E402

log = logging.getLogger("quality")

SETS = {
    "ecoli": "ecoli_promoters.tsv",
    "H3K4me3": "rice_H3K4me3_train.tsv",
    "H3K27me3": "rice_H3K27me3_train.tsv",
    "H3K9ac": "rice_H3K9ac_train.tsv",
}
# issue #10's targets (5-fold CV on these files) and the published figures beside them
TARGETS = {
    "ecoli": {"acc": 0.89, "mcc": 0.78},
    "H3K4me3": {"auc": 0.92},
    "H3K27me3": {"auc": 0.92},
    "H3K9ac": {"auc": 0.95},
}
PUBLISHED = {"ecoli": "Nucleic Transformer paper: acc 0.8806, MCC 0.7612 (5-fold)"}
METRICS = ("auc", "auprc", "acc", "mcc")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine(threads, device="cpu", when=None, cpus=None):
    """One line naming the CPU (or the GPU it trained on), cores, torch threads, torch version and date.

    ``when`` (default: now) and ``cpus`` (default: this machine's) are for a report of rows measured earlier."""
    when = when or datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    cpus = " and ".join(f"**{c}**" for c in (cpus or [cpu_model()]))
    gpu = f"**{torch.cuda.get_device_name(torch.device(device))}** (bf16 autocast), beside " if device.startswith("cuda") else ""
    return (f"Measured {when} on {gpu}{cpus}, {os.cpu_count()} cores ({threads} torch thread(s); the machine "
            f"shared with other jobs, so times are upper bounds), torch {torch.__version__}, "
            f"Python {platform.python_version()}.")


def _mean(per_fold):
    return {k: float(np.mean([m[k] for m in per_fold])) for k in METRICS}


def cross_validate(path, folds, preset, overrides, work, device="cpu"):
    """K-fold figures of the model (``train_table``) and of the 4-mer LR on the same folds."""
    data = read_table(path)
    t0 = time.time()
    model = train_table(path, work, folds=folds, preset=preset, device=device, seed=0, overrides=overrides)
    seconds = time.time() - t0
    t0 = time.time()
    lr_folds = kmer_logistic_folds(data, fold_splits(data[2], folds, seed=0), k=4)
    lr_seconds = time.time() - t0
    model_folds = [{k: m[k] for k in (*METRICS, "best_epoch", "epochs_run")} for m in model["folds"]]
    return {
        "table": os.fspath(path), "n": len(data[2]), "folds": folds, "preset": preset, "overrides": dict(overrides),
        "rc_augment": model.get("rc_augment"), "strand_gaps": model.get("strand_gaps"),
        "model": {**_mean(model["folds"]), "seconds": seconds, "per_fold": model_folds},
        "kmer4_lr": {**_mean(lr_folds), "seconds": lr_seconds, "per_fold": [{k: m[k] for k in METRICS} for m in lr_folds]},
    }


def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        log.warning("skipping %s (%s)", path, type(err).__name__)
        return None


def demo_figures(results):
    """The demo's held-out, per-variety and event figures from a results folder; missing files are skipped."""
    results = Path(results)
    out = {"results": os.fspath(results), "marks": {}, "varieties": None, "events": None}
    for mark_dir in sorted((results / "models").glob("*")):
        if not (mark_dir / "metrics.json").exists():
            continue
        model = _read_json(mark_dir / "metrics.json")
        base = _read_json(mark_dir / "baseline.json") if (mark_dir / "baseline.json").exists() else None
        out["marks"][mark_dir.name] = {
            "model": {k: model.get(k) for k in ("auc", "auprc", "mcc")} if model else None,
            "kmer4_lr": {k: base.get(k) for k in ("auc", "auprc", "mcc")} if base else None,
        }
    evaluation = results / "demo_evaluation.tsv"
    if evaluation.exists():
        table = pd.read_csv(evaluation, sep="\t")
        out["varieties"] = table[["variety", "mark", "auc", "auprc"]].to_dict("records")
    events = results / "demo_events.tsv"
    if events.exists():
        table = pd.read_csv(events, sep="\t")
        lost, gained = table[table.effect == "lost"], table[table.effect == "gained"]
        out["events"] = {
            "lost": len(lost), "lost_right": float(np.mean(lost.carrier_mean < lost.others_mean)) if len(lost) else None,
            "gained": len(gained), "gained_right": float(np.mean(gained.carrier_mean > gained.others_mean)) if len(gained) else None,
        }
    return out


def merge_sets(earlier, new):
    """Sets of an earlier report not rerun, plus the new ones; in the order of SETS."""
    merged = {**earlier, **new}
    return {k: merged[k] for k in SETS if k in merged}


def _f(x, digits=3):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _target(key, metric, value):
    t = TARGETS.get(key, {}).get(metric)
    if t is None:
        return "-"
    return f">= {t:.2f} ({'met' if value is not None and value >= t else 'not met'})"


def render(report):
    """The quality.md text of a report dict."""
    lines = ["# Model quality on real sequence sets", "",
             "Each set: stratified K-fold cross-validation (seed 0, `ntpipe.train.fold_splits`), the mean over the "
             "held-out folds. Each fold's model is early-stopped on its held-out fold (as `ntpipe train --folds` does), "
             "so its figures are slightly optimistic; the 4-mer logistic regression (`ntpipe.baseline`) is fitted "
             "on the same training folds and scored on the same held-out folds. Targets: issue #10.", ""]
    for key, res in report["sets"].items():
        m, b = res["model"], res["kmer4_lr"]
        settings = ", ".join(f"{k}={json.dumps(v)}" for k, v in res["overrides"].items()) or "as it is"
        if res.get("strand_gaps") and res.get("rc_augment") is False:
            settings += (" (its labels have a strand: reverse-complement augmentation off, strand gap "
                         f"{sum(res['strand_gaps']) / len(res['strand_gaps']):.3f})")
        lines += [f"## {key} (`{os.path.basename(res['table'])}`, {res['n']:,} sequences)", "",
                  f"Model: preset `{res['preset']}`, {settings}; {res['folds']} folds. {res['machine']}", "",
                  f"Command: `{res['command']}`", "",
                  "| metric | Nucleic Transformer | 4-mer LR | target |", "|---|---|---|---|"]
        for metric in METRICS:
            lines.append(f"| {metric.upper() if metric != 'acc' else 'accuracy'} | **{_f(m[metric])}** | {_f(b[metric])} | {_target(key, metric, m[metric])} |")
        lines.append(f"| wall time | {m['seconds'] / 60:.1f} min ({res['folds']} folds) | {b['seconds']:.0f} s | - |")
        epochs = ", ".join(f"{f['best_epoch']}/{f['epochs_run']}" for f in m["per_fold"])
        lines += ["", f"Per-fold AUC: model {', '.join(_f(f['auc']) for f in m['per_fold'])}; "
                      f"4-mer LR {', '.join(_f(f['auc']) for f in b['per_fold'])}. Epochs (best/run) per fold: {epochs}."]
        if key in PUBLISHED:
            lines += ["", f"Published: {PUBLISHED[key]}."]
        lines.append("")
    demo = report.get("demo")
    if demo:
        lines += [f"## Demo (`{demo['results']}`)", ""]
        if demo["marks"]:
            lines += ["Held-out chromosomes, per mark:", "", "| mark | AUC | AUPRC | MCC | 4-mer LR AUC | 4-mer LR AUPRC | 4-mer LR MCC |",
                      "|---|---|---|---|---|---|---|"]
            for mark, d in demo["marks"].items():
                mm, bb = d["model"] or {}, d["kmer4_lr"] or {}
                lines.append(f"| {mark} | {_f(mm.get('auc'))} | {_f(mm.get('auprc'))} | {_f(mm.get('mcc'))} | "
                             f"{_f(bb.get('auc'))} | {_f(bb.get('auprc'))} | {_f(bb.get('mcc'))} |")
            lines.append("")
        if demo["varieties"]:
            lines += ["Per variety, bins against the simulator's truth:", "", "| variety | mark | AUC | AUPRC |", "|---|---|---|---|"]
            lines += [f"| {r['variety']} | {r['mark']} | {_f(r['auc'])} | {_f(r['auprc'])} |" for r in demo["varieties"]]
            lines.append("")
        if demo["events"]:
            e = demo["events"]
            lines += [f"Planted events: {_f(e['lost_right'])} of {e['lost']} lost marks have carrier_mean < others_mean; "
                      f"{_f(e['gained_right'])} of {e['gained']} gained marks have carrier_mean > others_mean.", ""]
    return "\n".join(lines)


def _write(path, text):
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def parse_arguments(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.fspath(ROOT.parent / "shared" / "data"), help="folder of the sequence tables")
    p.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--preset", default="small")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="ModelConfig/TrainConfig override, e.g. --set nmute=18 --set kmers=[9] (repeat)")
    p.add_argument("--demo-results", default=os.fspath(ROOT / "results"), help="demo results folder (skipped when missing)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (where the models train)")
    p.add_argument("--out", default=os.fspath(HERE), help="folder for quality.md and quality.json")
    p.add_argument("--render-only", action="store_true", help="rewrite quality.md from --out's quality.json and stop")
    p.add_argument("--fresh", action="store_true", help="drop the sets of an earlier quality.json in --out (default: keep those not rerun)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("ntpipe").setLevel(logging.WARNING)
    if args.render_only:
        report = _read_json(Path(args.out) / "quality.json")
        if report is None:
            raise SystemExit(f"no readable quality.json in {args.out}")
        _write(Path(args.out) / "quality.md", render(report) + "\n")
        return report
    keys = [k.strip() for k in args.sets.split(",") if k.strip()]
    unknown = [k for k in keys if k not in SETS]
    if unknown:
        raise SystemExit(f"unknown set(s) {', '.join(map(repr, unknown))}; choose from {', '.join(SETS)}")
    paths = {k: Path(args.data) / SETS[k] for k in keys}
    missing = [os.fspath(p) for p in paths.values() if not p.exists()]
    if missing:
        raise SystemExit(f"missing sequence table(s): {', '.join(missing)} (set --data)")
    try:
        overrides = parse_settings(args.settings)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: no CUDA device visible")
    command = "python benchmarks/quality.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report = {"preset": args.preset, "overrides": overrides, "folds": args.folds, "targets": TARGETS, "sets": {}}
    with tempfile.TemporaryDirectory() as work:
        for key, path in paths.items():
            log.info("%s: %d-fold cross-validation", key, args.folds)
            res = cross_validate(path, args.folds, args.preset, overrides, os.path.join(work, key), args.device)
            report["sets"][key] = res = {**res, "command": command, "machine": machine(args.threads, args.device)}
            log.info("%s: model AUC %.4f acc %.4f MCC %.4f (%.0f s); 4-mer LR AUC %.4f acc %.4f MCC %.4f", key,
                     res["model"]["auc"], res["model"]["acc"], res["model"]["mcc"], res["model"]["seconds"],
                     res["kmer4_lr"]["auc"], res["kmer4_lr"]["acc"], res["kmer4_lr"]["mcc"])
    if args.demo_results and Path(args.demo_results).is_dir():
        report["demo"] = demo_figures(args.demo_results)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.fresh and (out / "quality.json").exists():
        # keep the sets of earlier runs that this run did not redo, and their demo figures unless it has new ones
        earlier = _read_json(out / "quality.json") or {}
        report["sets"] = merge_sets(earlier.get("sets", {}), report["sets"])
        if "demo" not in report and earlier.get("demo"):
            report["demo"] = earlier["demo"]
    _write(out / "quality.json", json.dumps(report, indent=2) + "\n")
    _write(out / "quality.md", render(report) + "\n")
    log.info("wrote %s and %s", out / "quality.md", out / "quality.json")
    return report


if __name__ == "__main__":
    main()
