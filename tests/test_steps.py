"""The end-of-run summary: each mark's held-out AUC against the k-mer baseline's."""

import json
import math

from ntpipe.steps import model_summary, transfer_note


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
