import json
import logging
import math
from dataclasses import asdict, replace

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from ntpipe.baseline import kmer_logistic
from ntpipe.config import model_config, train_config
from ntpipe.data import indel_batch, mutate_batch, read_table, reverse_complement_batch
from ntpipe.encoding import decode, encode, reverse_complement
from ntpipe.model import load_model
from ntpipe.train import HISTORY_COLUMNS, evaluate_table, fit, lr_at, predict_proba, train_table, update_ema

MOTIF = "TGACGTCA"


def motif_task(n, length, seed, min_length=None, motif=MOTIF, either_strand=False):
    """Random sequences; label 1 ones carry ``motif`` at a random place (on either strand if asked)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_length or length, length + 1, n)
    tokens = rng.integers(0, 4, (n, length)).astype(np.uint8)
    labels = rng.permutation(np.arange(n) % 2)
    for i in np.flatnonzero(labels):
        word = reverse_complement(encode(motif)) if either_strand and rng.random() < 0.5 else encode(motif)
        start = rng.integers(0, lengths[i] - len(word) + 1)
        tokens[i, start : start + len(word)] = word
    tokens[np.arange(length)[None, :] >= lengths[:, None]] = 4
    return tokens, lengths, labels


def tiny_configs(**train):
    mcfg = model_config("small", d_model=32, n_heads=4, d_ff=64, n_layers=1, kmers=[7], pool=2, dropout=0.0)
    plain = {"rc_augment": False, "nmute": 0, "weight_decay": 0.0}  # no regularisers unless a test asks
    tcfg = train_config("small", **{"epochs": 4, "batch_size": 32, "warmup": 40, "lr_scale": 0.3, "patience": 10, **plain, **train})
    return mcfg, tcfg


def write_table(path, tokens, lengths, labels, header=True):
    lines = ["sequence\tlabel"] if header else []
    lines += [f"{decode(t[:n])}\t{y}" for t, n, y in zip(tokens, lengths, labels)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_lr_schedule():
    assert lr_at(1, 512, 0.1, 3200) == pytest.approx(0.1 * 512**-0.5 * 3200**-1.5)
    peak = 0.1 * 512**-0.5 * 3200**-0.5
    assert lr_at(3200, 512, 0.1, 3200) == pytest.approx(peak)
    assert lr_at(12800, 512, 0.1, 3200) == pytest.approx(peak / 2)
    assert lr_at(1600, 512, 0.1, 3200) == pytest.approx(peak / 2)
    assert max(lr_at(s, 64, 0.1, 300) for s in range(1, 2000)) == lr_at(300, 64, 0.1, 300)


def test_reverse_complement_of_padded_batch():
    seqs = ["ACGTTG", "AACCN", "GGGTTTCA"]
    tokens = torch.full((3, 8), 4, dtype=torch.uint8)
    for i, s in enumerate(seqs):
        tokens[i, : len(s)] = torch.from_numpy(encode(s))
    lengths = torch.tensor([len(s) for s in seqs])
    out = reverse_complement_batch(tokens, lengths, torch.Generator().manual_seed(0), fraction=1.0)
    for i, s in enumerate(seqs):
        assert decode(out[i, : len(s)].numpy()) == decode(reverse_complement(encode(s)))
        assert (out[i, len(s) :] == 4).all()
    half = reverse_complement_batch(tokens.repeat(4, 1), lengths.repeat(4), torch.Generator().manual_seed(0))
    flipped = (half != tokens.repeat(4, 1)).any(dim=1)
    assert flipped.sum() == 6  # exactly half of the rows


def test_mutations():
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 4, (200, 100), dtype=torch.uint8)
    lengths = torch.full((200,), 60)
    tokens[:, 60:] = 4
    out = mutate_batch(tokens, lengths, 8, g)
    changed = (out != tokens).sum(dim=1).float()
    assert changed.max() <= 8
    assert 5 <= changed.mean() <= 7  # 8 draws, each a new base 3 times in 4
    assert (out[:, 60:] == 4).all()  # padding untouched
    assert mutate_batch(tokens, lengths, 0, g) is tokens


def _one_indel(before, after, max_indel):
    """The (kind, at, k) of an insertion or deletion of 1..max_indel bases that turns ``before`` into ``after``
    (fresh bases free: inserted ones, a deletion's refill at the end), or None."""
    n = len(before)
    for k in range(1, max_indel + 1):
        for at in range(n):
            if after[:at] == before[:at] and after[at + k :] == before[at : n - k]:
                return "insertion", at, k
            if after[:at] == before[:at] and after[at : n - k] == before[at + k :]:
                return "deletion", at, k
    return None


def test_indel_batch_gives_each_sequence_one_indel():
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 4, (60, 50), dtype=torch.uint8)
    lengths = torch.full((60,), 40)
    lengths[:10] = 25
    tokens[torch.arange(50)[None, :] >= lengths[:, None]] = 4
    out = indel_batch(tokens, lengths, 5, g)
    kinds = set()
    for row in range(60):
        n = int(lengths[row])
        assert (out[row, n:] == 4).all()  # padding untouched
        assert (out[row, :n] < 4).all()  # fresh bases are A/C/G/T
        if torch.equal(out[row], tokens[row]):
            continue  # fresh bases may repeat what was there
        found = _one_indel(tokens[row, :n].tolist(), out[row, :n].tolist(), 5)
        assert found is not None, row
        kinds.add(found[0])
    assert kinds == {"insertion", "deletion"}
    assert _one_indel(tokens[0, :25].tolist(), tokens[1, :25].tolist(), 5) is None  # the check can fail
    assert indel_batch(tokens, lengths, 0, g) is tokens


def test_fit_learns_and_resumes(tmp_path):
    train, valid = motif_task(600, 80, 0, min_length=50), motif_task(200, 80, 1, min_length=50)
    mcfg, tcfg = tiny_configs(epochs=2)
    out = tmp_path / "run"
    first = fit(train, valid, mcfg, tcfg, out, meta={"mark": "H3K4me3"}, device="cpu")
    assert first["epochs_run"] == 2
    history = (out / "history.tsv").read_text().splitlines()
    assert history[0].split("\t") == HISTORY_COLUMNS and len(history) == 3

    mcfg, tcfg = tiny_configs(epochs=5)
    metrics = fit(train, valid, mcfg, tcfg, out, test=motif_task(200, 80, 2, min_length=50), device="cpu")
    rows = [line.split("\t") for line in (out / "history.tsv").read_text().splitlines()[1:]]
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4, 5]  # resumed: epochs 3-5 only were added
    assert [r[:3] for r in rows[:2]] == [h.split("\t")[:3] for h in history[1:]]
    val_loss = [float(r[2]) for r in rows]
    assert val_loss[-1] < val_loss[0]
    assert metrics["auc"] > 0.8, metrics
    for name in ("model.pt", "checkpoint.pt", "curves.png", "roc_pr.png", "metrics.json"):
        assert (out / name).stat().st_size > 0
    assert not [p for p in out.iterdir() if ".tmp" in p.name]
    assert json.loads((out / "metrics.json").read_text())["auc"] == pytest.approx(metrics["auc"])
    model, cfg, meta = load_model(out / "model.pt")
    assert cfg == mcfg and meta["mark"] == "H3K4me3" and meta["best_epoch"] == metrics["best_epoch"]
    prob = predict_proba(model, *valid[:2], batch_size=64)
    assert prob.dtype == np.float32 and prob.shape == (200,)

    # asking again for 5 epochs trains nothing and gives the same answer
    again = fit(train, valid, mcfg, tcfg, out, test=motif_task(200, 80, 2, min_length=50), device="cpu")
    assert again["auc"] == pytest.approx(metrics["auc"])


def test_fit_is_reproducible(tmp_path):
    train, valid = motif_task(128, 40, 0), motif_task(64, 40, 1)
    mcfg, tcfg = tiny_configs(epochs=1)
    a = fit(train, valid, mcfg, tcfg, tmp_path / "a", device="cpu")
    b = fit(train, valid, mcfg, tcfg, tmp_path / "b", device="cpu")
    assert a == b


@pytest.fixture
def tables(tmp_path):
    train = write_table(tmp_path / "train.tsv", *motif_task(120, 60, 0, min_length=40))
    valid = write_table(tmp_path / "valid.tsv", *motif_task(40, 60, 1, min_length=40), header=False)
    return train, valid


def test_train_and_evaluate_table(tmp_path, tables):
    train, valid = tables
    metrics = train_table(train, tmp_path / "out", valid=valid, epochs=1, batch_size=32)
    assert set(metrics) >= {"auc", "auprc", "acc", "mcc", "sens", "spec"}
    evaluated = evaluate_table(tmp_path / "out" / "model.pt", valid, device="cpu")
    assert evaluated["auc"] == pytest.approx(metrics["auc"], abs=1e-6)
    held_out = train_table(train, tmp_path / "holdout", epochs=1, batch_size=32)
    assert held_out["n_pos"] + held_out["n_neg"] == 12  # a stratified 10%
    # beside the model: a 4-mer logistic regression on the same split, in the file too
    floor = kmer_logistic(read_table(train), read_table(valid))
    assert metrics["kmer_baseline"]["auc"] == pytest.approx(floor["auc"])
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["kmer_baseline"] == metrics["kmer_baseline"]
    assert held_out["kmer_baseline"]["n_pos"] + held_out["kmer_baseline"]["n_neg"] == 12


def test_a_model_below_the_kmer_floor_is_warned_of(tmp_path, caplog):
    from ntpipe.train import _with_baseline

    with caplog.at_level(logging.INFO, logger="ntpipe.train"):
        above = _with_baseline(tmp_path, {"auc": 0.91}, {"auc": 0.85})
        below = _with_baseline(tmp_path, {"auc": 0.86}, {"auc": 0.85, "mcc": math.nan})  # within the margin of 0.02
    assert above["kmer_baseline"]["auc"] == 0.85 and below["kmer_baseline"]["mcc"] is None
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == ["validation AUC 0.860; a 4-mer logistic regression on the same split 0.850: the model does not beat k-mer counts on this split"]
    assert json.loads((tmp_path / "metrics.json").read_text()) == below


def test_a_fold_below_its_kmer_floor_is_warned_of(tmp_path, caplog):
    from ntpipe.train import _with_baseline

    folds = [{"auc": 0.95}, {"auc": 0.80}, {"auc": None}]
    floors = [{"auc": 0.85}, {"auc": 0.85}, {"auc": 0.85}]
    with caplog.at_level(logging.INFO, logger="ntpipe.train"):
        _with_baseline(tmp_path, {"auc": 0.875, "folds": folds}, {"auc": 0.85, "folds": floors})
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == ["fold 1: validation AUC 0.800; the 4-mer logistic regression 0.850: the model does not beat k-mer "
                      "counts on this fold"]  # the mean beats the floor; a fold without an AUC is not judged


def test_train_table_folds(tmp_path, tables):
    train, _ = tables
    metrics = train_table(train, tmp_path / "cv", folds=3, epochs=1, batch_size=32)
    assert len(metrics["folds"]) == 3
    assert metrics["mean"]["auc"] == pytest.approx(np.mean([f["auc"] for f in metrics["folds"]]))
    assert sum(f["n_pos"] + f["n_neg"] for f in metrics["folds"]) == 120
    for i in range(3):
        assert (tmp_path / "cv" / f"fold{i}" / "model.pt").exists()
    best = tmp_path / "cv" / f"fold{metrics['best_fold']}" / "model.pt"
    assert (tmp_path / "cv" / "model.pt").read_bytes() == best.read_bytes()
    assert json.loads((tmp_path / "cv" / "metrics.json").read_text())["best_fold"] == metrics["best_fold"]
    floor = metrics["kmer_baseline"]
    assert len(floor["folds"]) == 3 and floor["auc"] == pytest.approx(np.mean([f["auc"] for f in floor["folds"]]))
    assert [f["n_pos"] + f["n_neg"] for f in floor["folds"]] == [f["n_pos"] + f["n_neg"] for f in metrics["folds"]]


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "no sequences"),
        ("sequence\tlabel\n", "no sequences"),
        ("ACGT\t1\nACGT\t2\n", "line 2: label '2' is not 0 or 1"),
        ("ACGT\t1\nACXT\t0\n", "line 2: base 'X' at position 3"),
        ("ACGT\t1\tfoo\n", "line 1: expected 2 tab-separated columns"),
        ("ACGT 1\n", "line 1: expected 2"),
    ],
)
def test_bad_tables(tmp_path, content, message):
    bad = tmp_path / "bad.tsv"
    bad.write_text(content)
    with pytest.raises(ValueError, match=message) as err:
        train_table(bad, tmp_path / "out", epochs=1)
    assert "bad.tsv" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_read_table_accepts_lowercase_and_n(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("acgtn\t0\nACG\t1\n\n")
    tokens, lengths, labels = read_table(path)
    assert tokens.tolist() == [[0, 1, 2, 3, 4], [0, 1, 2, 4, 4]]
    assert lengths.tolist() == [5, 3] and labels.tolist() == [0, 1]


def test_bad_split_leaves_nothing(tmp_path):
    path = tmp_path / "one_class.tsv"
    path.write_text("ACGTACGTACGTACGT\t1\n" * 10)
    with pytest.raises(ValueError, match="each label"):
        train_table(path, tmp_path / "out", folds=3)
    assert not (tmp_path / "out").exists()
    valid = tmp_path / "valid.tsv"
    valid.write_text("ACGTACGTACGTACGT\t1\nTTTTACGTACGTAAAA\t0\n")
    with pytest.raises(ValueError, match="one_class.tsv: needs at least 1 sequence"):  # before any training
        train_table(path, tmp_path / "out", valid=valid)
    assert not (tmp_path / "out").exists()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fit_on_cuda(tmp_path):
    train, valid = motif_task(256, 80, 0), motif_task(64, 80, 1)
    mcfg, tcfg = tiny_configs(epochs=1)
    mcfg = replace(mcfg, kmer_words=3)  # the word term's fit and its gather on the GPU
    metrics = fit(train, valid, mcfg, tcfg, tmp_path, device="cuda")
    assert math.isfinite(metrics["loss"])


@pytest.mark.parametrize("ema_decay", [0.0, 0.9])
def test_resume_matches_an_uninterrupted_run(tmp_path, ema_decay):
    train, valid = motif_task(128, 40, 0), motif_task(64, 40, 1)
    mcfg, tcfg = tiny_configs(epochs=2, ema_decay=ema_decay)
    fit(train, valid, mcfg, tcfg, tmp_path / "resumed", device="cpu")
    mcfg, tcfg = tiny_configs(epochs=3, ema_decay=ema_decay)
    resumed = fit(train, valid, mcfg, tcfg, tmp_path / "resumed", device="cpu")
    straight = fit(train, valid, mcfg, tcfg, tmp_path / "straight", device="cpu")
    assert resumed == straight
    assert (tmp_path / "resumed" / "history.tsv").read_text() == (tmp_path / "straight" / "history.tsv").read_text()


def test_update_ema():
    model, ema = torch.nn.Linear(3, 1), torch.nn.Linear(3, 1)
    before = [p.detach().clone() for p in ema.parameters()]
    update_ema(ema, model, decay=0.99, step=1000)  # (1 + 1000) / (10 + 1000) > 0.99: the decay itself
    for e, b, w in zip(ema.parameters(), before, model.parameters()):
        assert torch.allclose(e, 0.99 * b + 0.01 * w)
    update_ema(ema, model, decay=0.99, step=0)  # the first step: 1 / 10, mostly the weights
    assert torch.allclose(ema.weight, 0.1 * (0.99 * before[0] + 0.01 * model.weight) + 0.9 * model.weight)


def test_fit_keeps_the_moving_average(tmp_path):
    train = motif_task(128, 40, 0)
    mcfg, tcfg = tiny_configs(epochs=2, ema_decay=0.9)
    metrics = fit(train, None, mcfg, tcfg, tmp_path, device="cpu")  # no validation: the last epoch's weights kept
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    kept = load_model(tmp_path / "model.pt")[0].state_dict()
    assert all(torch.equal(kept[k], ckpt["ema"][k]) for k in kept)
    assert not all(torch.equal(kept[k], ckpt["model"][k]) for k in kept)  # the average, not the last step
    assert metrics["epochs_run"] == 2


def test_checkpoint_of_other_data_is_not_resumed(tmp_path, caplog):
    mcfg, tcfg = tiny_configs(epochs=1)
    fit(motif_task(64, 40, 0), motif_task(32, 40, 1), mcfg, tcfg, tmp_path, device="cpu")
    with caplog.at_level("WARNING", logger="ntpipe.train"):
        metrics = fit(motif_task(64, 40, 5), motif_task(32, 40, 1), mcfg, tcfg, tmp_path, device="cpu")
    assert "other data or other training code: starting over" in caplog.text
    assert metrics["epochs_run"] == 1
    assert metrics == fit(motif_task(64, 40, 5), motif_task(32, 40, 1), mcfg, tcfg, tmp_path / "fresh", device="cpu")


def test_checkpoint_of_other_training_code_is_not_resumed(tmp_path, caplog, monkeypatch):
    import ntpipe.train

    train, valid = motif_task(64, 40, 0), motif_task(32, 40, 1)
    mcfg, tcfg = tiny_configs(epochs=2)
    fit(train, valid, mcfg, tcfg, tmp_path, device="cpu")
    with caplog.at_level("INFO", logger="ntpipe.train"):
        fit(train, valid, mcfg, tcfg, tmp_path, device="cpu")
    assert "resuming from" in caplog.text  # the same code: a forced rerun resumes, to the same model
    caplog.clear()
    monkeypatch.setattr(ntpipe.train, "source_digest", lambda *modules: "an upgraded ntpipe")
    with caplog.at_level("INFO", logger="ntpipe.train"):
        metrics = fit(train, valid, mcfg, tcfg, tmp_path, device="cpu")
    assert "other training code: starting over" in caplog.text and "resuming from" not in caplog.text
    assert metrics["epochs_run"] == 2


def test_checkpoint_of_other_training_settings_is_not_resumed(tmp_path, caplog):
    train, valid = motif_task(64, 40, 0), motif_task(32, 40, 1)
    mcfg, tcfg = tiny_configs(epochs=2)
    fit(train, valid, mcfg, tcfg, tmp_path, device="cpu")
    other = replace(tcfg, nmute=3)  # e.g. a config change that Snakemake reruns the job for
    with caplog.at_level("WARNING", logger="ntpipe.train"):
        metrics = fit(train, valid, mcfg, other, tmp_path, device="cpu")
    assert "other training settings: starting over" in caplog.text
    assert metrics == fit(train, valid, mcfg, other, tmp_path / "fresh", device="cpu")


def test_interrupted_run_has_its_history_and_draws_its_curves_when_resumed_to_its_end(tmp_path, monkeypatch):
    import ntpipe.train as train_module

    train, valid = motif_task(64, 40, 0), motif_task(32, 40, 1)
    mcfg, tcfg = tiny_configs(epochs=3)
    one_epoch, calls = train_module.train_one_epoch, []

    def interrupted(*args, **kwargs):  # Ctrl-C during the second epoch
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return one_epoch(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_one_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fit(train, valid, mcfg, tcfg, tmp_path, device="cpu")
    assert len(pd.read_csv(tmp_path / "history.tsv", sep="\t")) == 1  # written after every epoch
    assert not (tmp_path / "curves.png").exists()  # drawn when the run ends
    monkeypatch.setattr(train_module, "train_one_epoch", one_epoch)
    fit(train, valid, mcfg, tcfg, tmp_path, device="cpu")
    assert list(pd.read_csv(tmp_path / "history.tsv", sep="\t")["epoch"]) == [1, 2, 3]
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_finished_run_rerun_after_its_outputs_were_removed(tmp_path, caplog):
    # what `snakemake -R train_model` does: the outputs go, the checkpoint stays
    train, valid = motif_task(64, 40, 0), motif_task(32, 40, 1)
    mcfg, tcfg = tiny_configs(epochs=2)
    first = fit(train, valid, mcfg, tcfg, tmp_path, device="cpu")
    history = (tmp_path / "history.tsv").read_text()
    for name in ("history.tsv", "curves.png", "metrics.json"):
        (tmp_path / name).unlink()
    assert fit(train, valid, mcfg, tcfg, tmp_path, device="cpu") == first  # resumed at its end: nothing retrained
    assert (tmp_path / "history.tsv").read_text() == history and (tmp_path / "curves.png").stat().st_size > 0
    (tmp_path / "model.pt").unlink()  # the best epoch's weights are only there
    with caplog.at_level("WARNING", logger="ntpipe.train"):
        assert fit(train, valid, mcfg, tcfg, tmp_path, device="cpu") == first
    assert "model.pt is gone: starting over" in caplog.text


def test_a_table_whose_labels_have_a_strand_trains_without_reverse_complements(tmp_path, caplog):
    # promoters are read 5' to 3' and a reverse complement is not one; a mark's windows read either way
    # MOTIF reads the same on both strands; this one does not
    stranded = write_table(tmp_path / "stranded.tsv", *motif_task(300, 60, 0, motif="CCACGAAG"))
    either = write_table(tmp_path / "either.tsv", *motif_task(300, 60, 0, motif="CCACGAAG", either_strand=True))
    with caplog.at_level(logging.INFO, logger="ntpipe.train"):
        train_table(stranded, tmp_path / "s", epochs=1, batch_size=32)
    assert "stranded.tsv: the labels have a strand" in caplog.text
    meta = load_model(tmp_path / "s" / "model.pt")[2]
    assert meta["rc_augment"] is False and min(meta["strand_gaps"]) > 0 and np.mean(meta["strand_gaps"]) >= 0.02
    written = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert (written["rc_augment"], written["strand_gaps"]) == (False, meta["strand_gaps"])
    train_table(either, tmp_path / "e", epochs=1, batch_size=32)
    meta = load_model(tmp_path / "e" / "model.pt")[2]
    assert meta["rc_augment"] is True and np.mean(meta["strand_gaps"]) < 0.02
    # asked for: kept, and not tested
    train_table(stranded, tmp_path / "k", epochs=1, batch_size=32, overrides={"rc_augment": True})
    meta = load_model(tmp_path / "k" / "model.pt")[2]
    assert meta["rc_augment"] is True and "strand_gaps" not in meta


def test_train_table_overrides(tmp_path, tables):
    train, _ = tables
    train_table(train, tmp_path / "o", epochs=1, batch_size=32, overrides={"d_model": 16, "n_heads": 2, "nmute": 3})
    _, cfg, meta = load_model(tmp_path / "o" / "model.pt")
    assert cfg.d_model == 16 and meta["overrides"] == {"d_model": 16, "n_heads": 2, "nmute": 3}
    with pytest.raises(ValueError, match="'no_such_knob'"):
        train_table(train, tmp_path / "bad", epochs=1, overrides={"no_such_knob": 1})
    assert not (tmp_path / "bad").exists()


def test_each_member_of_an_ensemble_trains_as_it_would_alone(tmp_path):
    train = motif_task(96, 40, 0)
    single_cfg, tcfg = tiny_configs(epochs=2, grad_clip=0.01)  # clipped at every step: per member, as alone
    pair_cfg = model_config("small", **{**asdict(single_cfg), "members": 2})
    fit(train, None, single_cfg, tcfg, tmp_path / "single", device="cpu")
    fit(train, None, pair_cfg, tcfg, tmp_path / "pair", device="cpu")
    single, _, _ = load_model(tmp_path / "single" / "model.pt")
    pair, cfg, _ = load_model(tmp_path / "pair" / "model.pt")
    assert cfg.members == 2
    first, second = pair.parts()  # the first member starts from the single model's initial weights
    for name, weight in single.state_dict().items():
        torch.testing.assert_close(first.state_dict()[name], weight, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(second.state_dict()["head.weight"], single.state_dict()["head.weight"])


def test_train_table_with_an_ensemble(tmp_path, tables):
    train, valid = tables
    metrics = train_table(train, tmp_path / "out", valid=valid, epochs=1, batch_size=32, overrides={"members": 2})
    model, cfg, _ = load_model(tmp_path / "out" / "model.pt")
    assert cfg.members == 2 and len(model.parts()) == 2
    assert evaluate_table(tmp_path / "out" / "model.pt", valid, device="cpu")["auc"] == pytest.approx(metrics["auc"], abs=1e-6)


def test_cli_train_takes_settings(tmp_path, tables, capsys):
    from ntpipe.cli import main

    train, valid = tables
    out = tmp_path / "cli"
    args = ["train", "--sequences", str(train), "--valid", str(valid), "--out", str(out), "--epochs", "1", "--batch-size", "32"]
    assert main(args + ["--set", "rc_augment=false", "--set", "pool=4", "--set", "kmers=[7, 9]"]) == 0
    assert json.loads(capsys.readouterr().out)["epochs_run"] == 1
    _, cfg, meta = load_model(out / "model.pt")
    assert cfg.pool == 4 and cfg.kmers == [7, 9]
    assert meta["overrides"] == {"rc_augment": False, "pool": 4, "kmers": [7, 9]}
    assert torch.load(out / "checkpoint.pt", weights_only=True)["train_config"]["rc_augment"] is False


@pytest.mark.parametrize("setting, message", [
    ("nmute", "setting 'nmute' is not key=value"),
    ("nmute=many", "value 'many' is not a number"),
    ("rc_augment=1", "TrainConfig.rc_augment must be true or false, got 1"),
    ("no_such_knob=1", "unknown setting(s) 'no_such_knob'"),
])
def test_cli_train_rejects_a_bad_setting_before_writing(tmp_path, tables, capsys, setting, message):
    from ntpipe.cli import main

    train, _ = tables
    assert main(["train", "--sequences", str(train), "--out", str(tmp_path / "bad"), "--set", setting]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_cli_a_table_model_predicts_a_genome_given_its_window(tmp_path, tables, capsys):
    import pyBigWig

    from ntpipe.cli import main
    from ntpipe.encoding import pad_for_bins
    from ntpipe.genome import write_fasta
    from ntpipe.infer import predict_windows

    train, valid = tables  # sequences of 40-60 bp
    model_path = tmp_path / "m" / "model.pt"
    assert main(["train", "--sequences", str(train), "--valid", str(valid), "--out", str(model_path.parent), "--epochs", "1"]) == 0
    assert load_model(model_path)[2]["lengths"] == [40, 60]
    rng = np.random.default_rng(0)
    seqs = {"c1": "".join(rng.choice(list("ACGT"), 500)), "c2": "".join(rng.choice(list("ACGT"), 90))}
    fa = write_fasta(tmp_path / "g.fa", seqs)
    capsys.readouterr()
    assert main(["predict", "--model", str(model_path), "--genome", str(fa), "--out", str(tmp_path / "p")]) == 2
    assert "trained on sequences of 40-60 bp, not on windows of one size: give the window" in capsys.readouterr().err
    assert main(["predict", "--model", str(model_path), "--genome", str(fa), "--out", str(tmp_path / "p"), "--window", "60"]) == 2
    assert "no bin size (stride) in its metadata" in capsys.readouterr().err
    assert main(["predict", "--model", str(model_path), "--genome", str(fa), "--out", str(tmp_path / "p"), "--window", "60",
                 "--stride", "20"]) == 0
    model = load_model(model_path)[0]
    expected = predict_windows([model], pad_for_bins(encode(seqs["c1"]), 60, 20), np.arange(25) * 20, 60)[0]
    with pyBigWig.open(str(tmp_path / "p" / "m.bw")) as bw:  # named after the model's folder
        assert bw.chroms() == {"c1": 500, "c2": 90}
        np.testing.assert_allclose([v for _, _, v in bw.intervals("c1")], expected, rtol=1e-5)
    # a table of one length gives the model its window; another table's lengths are worth a warning at evaluation
    one = tmp_path / "one.tsv"
    one.write_text("".join(f"{s[:40]}\t{y}\n" for s, y in (line.split("\t") for line in train.read_text().split("\n")[1:] if line)))
    assert main(["train", "--sequences", str(one), "--out", str(tmp_path / "m40"), "--epochs", "1"]) == 0
    assert load_model(tmp_path / "m40" / "model.pt")[2]["window"] == 40
    capsys.readouterr()
    assert main(["evaluate", "--model", str(tmp_path / "m40" / "model.pt"), "--sequences", str(valid)]) == 0
    err = capsys.readouterr().err
    assert "sequences of 40-60 bp, but" in err and "was trained on 40 bp windows" in err


def test_cli_an_output_folder_that_is_a_file_is_an_error_naming_it(tmp_path, tables, capsys):
    from ntpipe.cli import main

    train, _ = tables
    taken = tmp_path / "taken.txt"
    taken.write_text("not a folder")
    assert main(["train", "--sequences", str(train), "--out", str(taken), "--epochs", "1"]) == 2
    assert "taken.txt" in capsys.readouterr().err and taken.read_text() == "not a folder"


def test_regularisers_reach_training(tmp_path):
    train, valid = motif_task(128, 40, 0), motif_task(64, 40, 1)
    mcfg, tcfg = tiny_configs(epochs=1)
    plain = fit(train, valid, mcfg, tcfg, tmp_path / "plain", device="cpu")
    assert tcfg.weight_decay == 0.0 and tcfg.label_smoothing == 0.0  # defaults: plain Adam, hard targets
    assert tcfg.max_indel == 0 and tcfg.consistency == 0.0
    for knob in ({"weight_decay": 0.1}, {"label_smoothing": 0.2}, {"max_indel": 3}):
        m = fit(train, valid, mcfg, tiny_configs(epochs=1, **knob)[1], tmp_path / str(knob), device="cpu")
        assert math.isfinite(m["auc"]) and m != plain
    mutated = fit(train, valid, mcfg, tiny_configs(epochs=1, nmute=3)[1], tmp_path / "mutated", device="cpu")
    paired = fit(train, valid, mcfg, tiny_configs(epochs=1, nmute=3, consistency=1.0)[1], tmp_path / "paired", device="cpu")
    assert math.isfinite(paired["auc"]) and paired != mutated


def test_consistency_adds_the_squared_gap_between_windows_and_their_changed_copies():
    import copy

    from ntpipe.model import from_config
    from ntpipe.train import train_one_epoch

    tokens, lengths, labels = motif_task(8, 40, 0, min_length=30)
    batch = (torch.as_tensor(tokens), torch.as_tensor(lengths), torch.as_tensor(labels, dtype=torch.float32))
    mcfg, tcfg = tiny_configs(nmute=3, max_indel=2, consistency=2.0, grad_clip=0.0)
    torch.manual_seed(0)
    model = from_config(mcfg)
    twin = copy.deepcopy(model)
    sgd = torch.optim.SGD(model.parameters())  # its step leaves the step's gradients in .grad
    train_one_epoch(model, [batch], sgd, {"step": 0}, mcfg, tcfg, torch.device("cpu"), torch.Generator().manual_seed(3))
    # what it should have done: rows 6-7 replaced by copies of rows 0-1, all rows changed by their own draws
    g = torch.Generator().manual_seed(3)
    t, n, y = (torch.cat([x[:-2], x[:2]]) for x in batch)
    t = indel_batch(mutate_batch(t, n, 3, g), n, 2, g)
    assert (t[:2] != t[-2:]).any()  # the copies were changed apart
    twin.train()
    logits = twin.member_logits(t.long(), n)
    loss = F.binary_cross_entropy_with_logits(logits[:, 0], y) + 2.0 * (logits[:2, 0] - logits[-2:, 0]).pow(2).mean()
    loss.backward()
    for got, expected in zip(model.parameters(), twin.parameters()):
        if expected.grad is None:
            assert got.grad is None
        else:
            torch.testing.assert_close(got.grad, expected.grad)


def test_consistency_needs_changes_to_compare():
    with pytest.raises(ValueError, match="consistency needs nmute or max_indel"):
        train_config("small", nmute=0, max_indel=0, consistency=0.3)
    assert train_config("small", nmute=0, max_indel=4, consistency=0.3).consistency == 0.3


def test_word_term_is_fitted_first_and_kept(tmp_path, caplog):
    from ntpipe.data import SequenceDataset
    from ntpipe.model import from_config
    from ntpipe.train import fit_words

    train, valid = motif_task(400, 60, 0), motif_task(200, 60, 1)
    mcfg, tcfg = tiny_configs(epochs=2, kmer_l1=0.002)
    mcfg = model_config("small", **{**asdict(mcfg), "kmer_words": 4})
    with caplog.at_level("INFO", logger="ntpipe.train"):
        fit(train, valid, mcfg, tcfg, tmp_path / "out", device="cpu")
    alone = [r.getMessage() for r in caplog.records if "word term fitted" in r.getMessage()]
    assert len(alone) == 1 and float(alone[0].rsplit(" ", 1)[1]) > 0.8  # the motif's 4-mers alone separate the classes
    model, _, _ = load_model(tmp_path / "out" / "model.pt")
    weights = model.kmer_words.linear.weight[0]
    assert 0 < int((weights != 0).sum()) < 64  # sparse: a few of the 256 4-mers
    words = {MOTIF[i : i + 4] for i in range(len(MOTIF) - 3)}
    top = {decode(np.array([(int(j) >> 2 * (3 - p)) & 3 for p in range(4)], dtype=np.uint8)) for j in weights.topk(3).indices}
    assert top <= words
    # the term is the regression's, untouched by the transformer's epochs (the dense 4-mer term trains)
    fresh = from_config(mcfg)
    fit_words(fresh, SequenceDataset(*train), tcfg.kmer_l1, tcfg.seed, torch.device("cpu"))
    torch.testing.assert_close(model.kmer_words.linear.weight, fresh.kmer_words.linear.weight)
    torch.testing.assert_close(model.kmer_words.linear.bias, fresh.kmer_words.linear.bias)
    assert model.kmer_linear.linear.weight.abs().sum() > 0


@pytest.mark.parametrize("sizes", [3, [2, 3]])
def test_word_term_fit_reads_the_terms_own_features(sizes):
    from ntpipe.baseline import kmer_features, sparse_logistic
    from ntpipe.data import SequenceDataset
    from ntpipe.model import from_config
    from ntpipe.train import fit_words

    tokens, lengths, labels = motif_task(120, 50, 3, min_length=20)  # padded rows: only true k-mers count
    mcfg, _ = tiny_configs()
    model = from_config(model_config("small", **{**asdict(mcfg), "kmer_words": sizes}))
    kept = fit_words(model, SequenceDataset(tokens, lengths, labels), 0.003, 0, torch.device("cpu"))
    # the term's input: each size's frequencies scaled by 4**k (the 2-mers' by 2 more: 2**(3 - 2)), side by side
    dense = np.hstack([kmer_features(tokens, lengths, k=k) * 4**k * 2 ** (3 - k) for k in model.kmer_words.ks])
    weights, intercept = sparse_logistic(dense, labels, 0.003)
    counts = [f"{np.count_nonzero(weights[:16])} of 16 2-mers and "] if sizes == [2, 3] else []
    assert kept == "".join(counts) + f"{np.count_nonzero(weights[-64:])} of 64 3-mers weigh"
    np.testing.assert_allclose(model.kmer_words.linear.weight[0].detach().numpy(), weights, rtol=1e-4, atol=1e-5)
    assert model.kmer_words.linear.bias.item() == pytest.approx(intercept, rel=1e-4, abs=1e-5)


def conjunction_task(n, length, seed):
    """Random sequences, a quarter each with MOTIF, with PARTNER, with both, with neither; label 1: both."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, 4, (n, length)).astype(np.uint8)
    kind = np.arange(n) % 4  # 0 neither, 1 MOTIF, 2 PARTNER, 3 both
    for i in range(n):
        if kind[i] & 1:
            tokens[i, 5 : 5 + len(MOTIF)] = encode(MOTIF)
        if kind[i] & 2:
            tokens[i, 40 : 40 + len(PARTNER)] = encode(PARTNER)
    return tokens, np.full(n, length), (kind == 3).astype(np.int64), kind


PARTNER = "CCATGGAA"


def test_gated_word_term_reads_a_word_that_matters_only_beside_another():
    """With word_gates the term's response to PARTNER depends on MOTIF being there (a conjunction); the plain
    term adds the same for PARTNER either way. The gated term is the second regression's logit."""
    from ntpipe.baseline import kmer_features, sparse_logistic
    from ntpipe.data import SequenceDataset
    from ntpipe.model import from_config
    from ntpipe.train import fit_words

    tokens, lengths, labels, _ = conjunction_task(800, 80, 0)
    test_tokens, test_lengths, _, kind = conjunction_task(400, 80, 1)
    mcfg, _ = tiny_configs()
    gain = {}
    for gates in (False, True):
        model = from_config(model_config("small", **{**asdict(mcfg), "kmer_words": 4, "word_gates": gates}))
        fit_words(model, SequenceDataset(tokens, lengths, labels), 0.002, 0, torch.device("cpu"))
        with torch.no_grad():
            score = model.kmer_words(torch.as_tensor(test_tokens).long(), torch.as_tensor(test_lengths)).numpy()
        mean = [score[kind == k].mean() for k in range(4)]
        gain[gates] = (mean[3] - mean[1]) - (mean[2] - mean[0])  # PARTNER's effect beside MOTIF, less alone
    assert abs(gain[False]) < 0.5 and gain[True] > 1.0, gain
    # the gated term computes the second fit: words, their products with the first fit's score, that score
    x = kmer_features(tokens, lengths, k=4) * 4**4
    first_w, first_b = sparse_logistic(x, labels, 0.002)
    z = (x @ first_w + first_b - (x @ first_w + first_b).mean()) / (x @ first_w + first_b).std()
    both, b = sparse_logistic(np.hstack([x, z[:, None] * x, z[:, None]]), labels, 0.002)
    with torch.no_grad():
        got = model.kmer_words(torch.as_tensor(tokens).long(), torch.as_tensor(lengths)).numpy()
    np.testing.assert_allclose(got, np.hstack([x, z[:, None] * x, z[:, None]]) @ both + b, rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match="word_gates needs kmer_words"):
        model_config("small", word_gates=True)
