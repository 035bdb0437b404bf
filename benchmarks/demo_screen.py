"""Hold-out runs on the demo's labelled windows, for screening settings (by hand).

Trains on every training chromosome of ``results/labels/{mark}.npz`` (keep
it with ``snakemake --notemp results/labels/H3K4me3.npz``), validates on the
config's validation chromosome, and reports the best epoch's validation AUC,
the best model's AUC on the validation chromosome's differential windows
(``ntpipe.trainset``: a locus marked in some cultivars only), the best and
the last epoch's model on 4,000 windows of the test chromosomes, and the last
epoch's model on the training differential windows and on 3,000 training
windows (how well it fits what it saw). One JSON line per run is appended
to ``--log``. The demo config's training settings apply unless overridden:

    python benchmarks/demo_screen.py --mark H3K4me3 --epochs 20 --name base
    python benchmarks/demo_screen.py --mark H3K4me3 --epochs 20 --name d64 d_model=64 d_ff=128

(benchmarks/ablations.md, "Why the tracks do not follow the planted variants").
"""

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ntpipe.config import ModelConfig, parse_settings  # noqa: E402
from ntpipe.data import WindowDataset  # noqa: E402
from ntpipe.model import from_config, load_model  # noqa: E402
from ntpipe.sheets import load_config  # noqa: E402
from ntpipe.steps import model_auc, model_settings  # noqa: E402
from ntpipe.train import fit  # noqa: E402
from ntpipe.trainset import eval_subset, load_labels, split_by_chrom  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mark", default="H3K4me3")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--name", default="run")
    parser.add_argument("--config", default="config/config.yaml", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--log", default="benchmarks/demo_screen.jsonl", type=Path)
    parser.add_argument("overrides", nargs="*", help="key=value (JSON value), a ModelConfig or TrainConfig field")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = load_config(args.config)  # as the workflow reads it: the demo's settings on the demo's panel
    overrides = parse_settings(args.overrides)
    model = dict(config.get("model", {}))
    model["overrides"] = {**model.get("overrides", {}), **{k: v for k, v in overrides.items() if k in ModelConfig.__dataclass_fields__}}
    training = {k: v for k, v in config.get("training", {}).items() if k not in ("device", "min_final_epochs")}
    training.update({k: v for k, v in overrides.items() if k not in ModelConfig.__dataclass_fields__})
    training.update(epochs=args.epochs, patience=10**6)  # every epoch runs: the curve is the result
    _, model_cfg, train_cfg = model_settings(model, training)

    data = load_labels(f"results/labels/{args.mark}.npz")
    parts = split_by_chrom(data, config["split"]["valid_chroms"], config["split"]["test_chroms"])
    dataset = lambda ex: WindowDataset(data["genomes"], ex, data["offsets"], data["size"], data["stride"])  # noqa: E731
    train, valid, test = parts["train"], parts["valid"], parts["test"]
    rng = np.random.default_rng(0)
    sets = {"valid_differential": valid[valid["differential"] > 0],
            "train_differential": train[train["differential"] > 0][:3000],
            "train_sample": train[rng.choice(len(train), min(3000, len(train)), replace=False)],
            "test": eval_subset(test, 4000, 0)}

    def auc(model, examples):
        value = model_auc(model, dataset(examples), 256, "cpu")
        return None if value is None else round(value, 3)

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        fit(dataset(train), dataset(eval_subset(valid, train_cfg.eval_size, train_cfg.seed)), model_cfg, train_cfg, tmp, device="cpu")
        seconds = time.perf_counter() - t0
        history = list(csv.DictReader(open(Path(tmp) / "history.tsv"), delimiter="\t"))
        best = load_model(Path(tmp) / "model.pt")[0]
        last = from_config(model_cfg)
        last.load_state_dict(torch.load(Path(tmp) / "checkpoint.pt", weights_only=True)["model"])
        result = {
            "mark": args.mark, "name": args.name, "overrides": overrides, "epochs": args.epochs, "seconds": round(seconds),
            "best_epoch": max(history, key=lambda h: float(h["val_auc"]))["epoch"],
            "val_auc_best": round(max(float(h["val_auc"]) for h in history), 3),
            "val_auc_last": round(float(history[-1]["val_auc"]), 3),
            "val_differential_best_model": auc(best, sets["valid_differential"]),
            "test_best_model": auc(best, sets["test"]),
            "test_last_model": auc(last, sets["test"]),
            "train_differential_last_model": auc(last, sets["train_differential"]),
            "train_auc_last_model": auc(last, sets["train_sample"]),
            "val_auc_curve": [round(float(h["val_auc"]), 3) for h in history],
        }
    print(json.dumps(result))
    with open(args.log, "a") as fh:
        fh.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
