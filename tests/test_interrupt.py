"""Kill -9 a training run midway, then rerun: it resumes from its checkpoint and ends as an uninterrupted run does."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from ntpipe.encoding import decode


def _table(path, n=1200, length=240, seed=0):
    """A motif task: label 1 when the sequence holds GATTACAGG."""
    rng = np.random.default_rng(seed)
    lines = ["sequence\tlabel"]
    for i in range(n):
        seq = decode(rng.integers(0, 4, length))
        if i % 2:
            at = int(rng.integers(0, length - 9))
            seq = seq[:at] + "GATTACAGG" + seq[at + 9 :]
        lines.append(f"{seq}\t{i % 2}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _train(table, out):
    cmd = [sys.executable, "-m", "ntpipe.cli", "train", "--sequences", str(table), "--out", str(out), "--epochs", "5"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_training_killed_midway_resumes_to_the_same_model(tmp_path):
    table = _table(tmp_path / "t.tsv")
    proc = _train(table, tmp_path / "killed")
    checkpoint = tmp_path / "killed" / "checkpoint.pt"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "training ended before its first checkpoint could be interrupted"
    proc.send_signal(signal.SIGKILL)  # after epoch 1, during epoch 2 of 5: no clean-up runs
    proc.communicate()  # reap it and close its pipes
    assert not (tmp_path / "killed" / "metrics.json").exists()  # nothing written as if the run were complete

    rerun = _train(table, tmp_path / "killed")
    _, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    assert "resuming from" in err
    straight = _train(table, tmp_path / "straight")
    _, err = straight.communicate(timeout=600)
    assert straight.returncode == 0, err
    resumed = json.loads((tmp_path / "killed" / "metrics.json").read_text())
    assert resumed == json.loads((tmp_path / "straight" / "metrics.json").read_text())
    assert resumed["epochs_run"] == 5
