"""ntpipe.steps: the end-of-run summary (each mark's held-out AUC against the k-mer baseline's) and the
config's model and training settings."""

import json
import math

import numpy as np

from ntpipe.steps import model_settings, model_summary, transfer_note


def _write(folder, auc, baseline_auc=None):
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"auc": auc, "best_epoch": 3}))
    if baseline_auc is not None:
        (folder / "baseline.json").write_text(json.dumps({"auc": baseline_auc}))


def test_a_model_that_beats_the_kmer_baseline_is_reported_plainly():
    line, fine = transfer_note("H3K4me3", 0.766, 0.519)
    assert fine and line == "H3K4me3: held-out test AUC 0.766, 4-mer logistic regression 0.519"


def test_a_model_that_does_not_beat_it_by_the_margin_is_a_warning():
    for auc in (0.55, 0.615):  # below, and above by less than the margin of 0.02
        line, fine = transfer_note("H3K27me3", auc, 0.60)
        assert not fine and "does not beat k-mer counts" in line


def test_a_missing_figure_is_said_not_compared():
    line, fine = transfer_note("H3K4me3", None, 0.6)
    assert not fine and "split.test_chroms" in line
    assert transfer_note("H3K4me3", math.nan, 0.6)[1] is False
    line, fine = transfer_note("H3K4me3", 0.7, math.nan)  # a baseline without a figure: nothing to beat
    assert fine and line.endswith("4-mer logistic regression -")


def test_the_summary_covers_the_trained_marks_only(tmp_path):
    _write(tmp_path / "H3K4me3", 0.77, 0.52)
    _write(tmp_path / "H3K27me3", 0.50, 0.58)
    lines = model_summary(tmp_path, ["H3K27me3", "H3K4me3", "H3K9ac"])  # H3K9ac not trained (yet)
    assert len(lines) == 3 and "metrics.json" in lines[0]
    assert lines[1].startswith("WARNING H3K27me3: held-out test AUC 0.500")
    assert lines[2] == "H3K4me3: held-out test AUC 0.770, 4-mer logistic regression 0.520"
    assert model_summary(tmp_path / "none", ["H3K4me3"]) == []
    (tmp_path / "H3K4me3" / "baseline.json").write_text("{not json")  # a summary never fails a finished run
    assert "cannot read its metrics" in model_summary(tmp_path, ["H3K4me3"])[1]
    for text in ("null", '{"best_epoch": 3}'):  # JSON, but not the metrics of a hold-out run
        (tmp_path / "H3K27me3" / "metrics.json").write_text(text)
        assert "holds no test AUC" in model_summary(tmp_path, ["H3K27me3"])[1]


def test_a_gpu_trains_with_the_batch_a_cpu_does_unless_told_otherwise():
    # an epoch counts windows: a larger batch on a GPU would be fewer steps, and the warmup counts steps
    _, _, preset = model_settings({"preset": "small"}, {})
    assert preset.cuda_batch_size == preset.batch_size == 32
    _, _, chosen = model_settings({}, {"batch_size": 16, "device": "cuda"})
    assert chosen.batch_size == chosen.cuda_batch_size == 16
    _, _, both = model_settings({}, {"batch_size": 16, "cuda_batch_size": 128})
    assert (both.batch_size, both.cuda_batch_size) == (16, 128)


def test_a_tables_batch_size_setting_holds_on_a_gpu_too():
    from ntpipe.train import _configs

    _, cfg = _configs("small", np.zeros((2, 100), np.uint8), None, None, 0, {"batch_size": 8})
    assert cfg.batch_size == cfg.cuda_batch_size == 8
