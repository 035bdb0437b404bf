"""Kill -9 a training or prediction run midway, then rerun: it ends as an uninterrupted run does,
and nothing the killed run left behind reads as finished."""

import json
import logging
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import tiny_model

from ntpipe.bigwig import read_bins
from ntpipe.cache import ENTRY_DTYPE
from ntpipe.encoding import decode
from ntpipe.genome import write_fasta
from ntpipe.predict import predict_genome


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


# --- prediction ---------------------------------------------------------------------------------

SIZE, STRIDE = 200, 50
CHROMS = [f"Chr{i}" for i in range(1, 7)]

# A prediction job that stops at a given log message (after its work up to there is done or on disk),
# says so in a marker file and waits there to be killed: the kill lands at a known point, not after a guessed delay.
PAUSED_PREDICTION = """
import logging, sys, time
from pathlib import Path
from ntpipe.predict import predict_genome

model, genome, out, cache, marker, pause_at = sys.argv[1:]

class Pause(logging.Handler):
    def emit(self, record):
        if record.getMessage().startswith(pause_at):
            Path(marker).write_text(record.getMessage())
            time.sleep(600)

logging.getLogger("ntpipe").setLevel(logging.INFO)
logging.getLogger("ntpipe").addHandler(Pause())
predict_genome([model], genome, out, device="cpu", batch_size=32, cache=cache)
"""


def _genomes(tmp_path):
    """Two varieties sharing most windows: ``b`` is ``a`` with a SNP every 700 bp."""
    rng = np.random.default_rng(2)
    a = {c: decode(rng.integers(0, 4, 3000)) for c in CHROMS}
    b = {c: "".join("A" if i % 700 == 350 and base != "A" else base for i, base in enumerate(seq)) for c, seq in a.items()}
    return write_fasta(tmp_path / "a.fa", a), write_fasta(tmp_path / "b.fa", b)


def _tracks(path):
    return {c: read_bins(path, c, STRIDE) for c in CHROMS}


def _check_shards(cache):
    """Every complete shard (``*.npy``) loads whole and holds valid entries; returns how many there are."""
    shards = sorted(cache.glob("*/*.npy"))
    for shard in shards:
        entries = np.load(shard, allow_pickle=False)
        assert entries.dtype == ENTRY_DTYPE and entries.ndim == 1 and len(entries), shard
        assert np.isfinite(entries["p"]).all() and ((entries["p"] >= 0) & (entries["p"] <= 1)).all(), shard
    return len(shards)


def _cache_stats(caplog):
    return [r.cache_stats for r in caplog.records if "model_fraction" in getattr(r, "cache_stats", {})][-1]


@pytest.mark.parametrize("pause_at, shards", [
    ("window cache, Chr3:", 1),  # b's new entries are still in memory: lost, recomputed by the rerun
    ("window cache, genome:", 2),  # b's entries are in their shard; the tracks are complete but not renamed
], ids=["between-chromosomes", "cache-flushed-before-rename"])
def test_prediction_killed_midway_leaves_no_track_and_reruns_to_the_same_track(tmp_path, caplog, pause_at, shards):
    model, _ = tiny_model(tmp_path, size=SIZE, stride=STRIDE)
    a, b = _genomes(tmp_path)
    cache = tmp_path / "cache"
    predict_genome([model], a, tmp_path / "a", device="cpu", batch_size=32, cache=cache)  # another variety, done
    predict_genome([model], b, tmp_path / "straight", device="cpu", batch_size=32)  # uninterrupted, no cache
    out, marker = tmp_path / "b", tmp_path / "paused"
    cmd = [sys.executable, "-c", PAUSED_PREDICTION, str(model), str(b), str(out), str(cache), str(marker), pause_at]
    proc = subprocess.Popen(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists() and proc.poll() is None, proc.communicate()[1][-3000:] if proc.poll() is not None else "timed out"
    proc.send_signal(signal.SIGKILL)  # no clean-up runs: no exception handler, no atexit, no close
    _, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err[-3000:]

    assert not (out / "H3K4me3.bw").exists()  # nothing at the final path as if complete
    assert list(out.glob(".H3K4me3.bw.*.tmp"))  # the kill landed while the track was being written
    assert _check_shards(cache) == shards

    with caplog.at_level(logging.INFO, logger="ntpipe.cache"):
        predict_genome([model], b, out, device="cpu", batch_size=32, cache=cache)  # the rerun
    rerun = _cache_stats(caplog)
    assert rerun["hits"] > 0  # it used what the cache held after the kill
    assert (rerun["model_windows"] == 0) == (shards == 2)
    assert sorted(p.name for p in out.iterdir()) == ["H3K4me3.bw"]  # the killed run's temporary track is gone
    straight = _tracks(tmp_path / "straight" / "H3K4me3.bw")
    for chrom, values in _tracks(out / "H3K4me3.bw").items():
        np.testing.assert_array_equal(np.isnan(values), np.isnan(straight[chrom]))
        np.testing.assert_allclose(values, straight[chrom], rtol=0, atol=1e-6, equal_nan=True)

    _check_shards(cache)  # still consistent: every window of b is in it, with the value it had
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ntpipe.cache"):
        predict_genome([model], b, tmp_path / "again", device="cpu", batch_size=32, cache=cache)
    assert _cache_stats(caplog)["model_windows"] == 0
    for chrom, values in _tracks(tmp_path / "again" / "H3K4me3.bw").items():
        np.testing.assert_allclose(values, straight[chrom], rtol=0, atol=1e-6, equal_nan=True)


def test_sigterm_runs_the_cleanup_of_a_job_and_leaves_no_temporary_file(tmp_path):
    """SLURM ends a job at its time limit or on scancel with SIGTERM (SIGKILL only KillWait seconds later), and
    Snakemake stops its local jobs the same way. Python's default SIGTERM ends the process without running
    ``finally`` blocks, so an effects table, panel matrix or metrics file being written was left as
    ``NAME.<uuid>.tmp`` beside its target for good (only bigWigs are swept by their next writer). A job set up
    by setup_logging (every workflow script, the command line) turns SIGTERM into SystemExit: the temporary
    file is removed and the job still fails."""
    script = tmp_path / "job.py"
    script.write_text(
        "import sys, time\n"
        "from ntpipe.files import atomic_path\n"
        "from ntpipe.logs import setup_logging\n"
        f"setup_logging({str(tmp_path / 'job.log')!r})\n"
        f"with atomic_path({str(tmp_path / 'effects.tsv')!r}) as tmp:\n"
        "    tmp.write_text('partial')\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) != 0  # still a failed job
    proc.stdout.close()
    assert not list(tmp_path.glob("effects.tsv*"))  # neither the target nor its temporary file
