"""benchmarks/quality.py on a tiny synthetic table (2 folds, 1 epoch)."""

import importlib.util
import json
from pathlib import Path

import pytest

from test_train import motif_task, write_table

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quality():
    spec = importlib.util.spec_from_file_location("quality", ROOT / "benchmarks" / "quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quality_writes_model_and_baseline_figures(tmp_path, quality):
    data = tmp_path / "data"
    data.mkdir()
    write_table(data / "ecoli_promoters.tsv", *motif_task(60, 50, 0, min_length=40))
    out = tmp_path / "out"
    args = ["--data", str(data), "--sets", "ecoli", "--folds", "2", "--threads", "1", "--out", str(out),
            "--demo-results", str(tmp_path / "no_results"),
            "--set", "epochs=1", "--set", "kmers=[7]", "--set", "pool=2", "--set", "d_model=16"]
    report = quality.main(args)
    text = (out / "quality.md").read_text()
    assert "| metric | Nucleic Transformer | 4-mer LR | target |" in text
    res = json.loads((out / "quality.json").read_text())["sets"]["ecoli"]
    assert len(res["model"]["per_fold"]) == len(res["kmer4_lr"]["per_fold"]) == 2
    assert res["model"]["per_fold"][0]["epochs_run"] == 1
    for metric in ("auc", "acc", "mcc"):
        # both figures of each metric are in the table's row
        row = next(line for line in text.splitlines() if line.startswith(f"| {metric.upper() if metric != 'acc' else 'accuracy'} |"))
        assert f"{res['model'][metric]:.3f}" in row and f"{res['kmer4_lr'][metric]:.3f}" in row
    assert report["overrides"] == {"epochs": 1, "kmers": [7], "pool": 2, "d_model": 16}
    assert "demo" not in report  # no results folder: skipped
    # a later run of one set without demo results keeps the earlier report's demo figures
    earlier = json.loads((out / "quality.json").read_text())
    earlier["demo"] = {"results": "results", "marks": {}, "varieties": None, "events": {"lost": 2, "lost_right": 0.5, "gained": 1, "gained_right": 1.0}}
    (out / "quality.json").write_text(json.dumps(earlier))
    again = quality.main(args)
    assert again["demo"] == earlier["demo"] and "## Demo (`results`)" in (out / "quality.md").read_text()


def test_quality_reads_demo_results(tmp_path, quality):
    models = tmp_path / "results" / "models" / "H3K4me3"
    models.mkdir(parents=True)
    (models / "metrics.json").write_text(json.dumps({"auc": 0.9, "auprc": 0.8, "mcc": 0.6}))
    (tmp_path / "results" / "demo_events.tsv").write_text(
        "effect\tcarrier_mean\tothers_mean\nlost\t0.1\t0.5\nlost\t0.6\t0.5\ngained\t0.9\t0.2\n")
    demo = quality.demo_figures(tmp_path / "results")
    assert demo["marks"]["H3K4me3"] == {"model": {"auc": 0.9, "auprc": 0.8, "mcc": 0.6}, "kmer4_lr": None}
    assert demo["varieties"] is None  # missing file tolerated
    assert demo["events"] == {"lost": 2, "lost_right": 0.5, "gained": 1, "gained_right": 1.0}


def test_rerun_keeps_other_sets(quality):
    merged = quality.merge_sets({"H3K9ac": {"n": 1}, "ecoli": {"n": 2}}, {"ecoli": {"n": 3}, "H3K4me3": {"n": 4}})
    assert merged == {"ecoli": {"n": 3}, "H3K4me3": {"n": 4}, "H3K9ac": {"n": 1}}


def test_ablation_report_names_the_cpus_its_rows_were_measured_on(tmp_path):
    # a report measures nothing: the header names the logged rows' CPUs (rows without one: the AMD machines
    # of the sessions before rows named theirs), never the CPU that rewrites it
    spec = importlib.util.spec_from_file_location("ablate", ROOT / "benchmarks" / "ablate.py")
    ablate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ablate)
    row = {"set": "ecoli", "variant": "base", "overrides": {}, "preset": "small", "fold": 0, "folds": 5, "auc": 0.9,
           "auprc": 0.9, "acc": 0.8, "mcc": 0.6, "best_epoch": 3, "epochs_run": 5, "seconds": 1.0}
    old, new = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    old.write_text(json.dumps(row) + "\n")
    new.write_text(json.dumps({**row, "fold": 1, "date": "2026-11-26 15:00", "cpu": "Some Other CPU"}) + "\n")
    notes = tmp_path / "notes.md"
    notes.write_text("")
    for logs, expected in (([old], "on **AMD EPYC**, "), ([old, new], "Measured up to 2026-11-26 15:00 on **AMD EPYC** and **Some Other CPU**, ")):
        out = tmp_path / "ablations.md"
        ablate.main(["--report", "--logs", *map(str, logs), "--notes", str(notes), "--out", str(out)])
        header = out.read_text().splitlines()[2]
        assert expected in header, header
        if ablate.cpu_model() not in ("AMD EPYC", "Some Other CPU"):
            assert ablate.cpu_model() not in header
