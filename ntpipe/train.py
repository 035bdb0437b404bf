"""Training, evaluation and checkpointing of one Nucleic Transformer.

:func:`fit` trains on (tokens, lengths, labels) arrays and writes into its
output folder:

- ``model.pt``: the best epoch's weights (by validation AUC), see
  :func:`ntpipe.model.save_model`;
- ``checkpoint.pt``: everything needed to resume after an interrupt
  (rewritten after every epoch; a rerun with the same folder resumes);
- ``history.tsv`` (rewritten after every epoch), ``curves.png`` (drawn when
  the run ends), ``roc_pr.png`` (with a test set) and ``metrics.json``.

:func:`train_table` and :func:`evaluate_table` are what ``ntpipe train`` and
``ntpipe evaluate`` call.
"""

import copy
import csv
import hashlib
import io
import json
import logging
import math
import os
import shutil
import sys
from dataclasses import asdict, replace

import numpy as np
import scipy.sparse
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .config import ModelConfig, TrainConfig, check_together, model_config, train_config
from .data import (
    EpochSampler,
    SequenceDataset,
    WindowDataset,
    indel_batch,
    make_loader,
    mutate_batch,
    read_table,
    reverse_complement_batch,
)
from .device import resolve_device
from .baseline import sparse_logistic
from .metrics import below_floor, binary_metrics, format_auc
from .files import atomic_path, source_digest
from .model import _plain, from_config, load_model, save_model
from .trainset import gc_match_weights

__all__ = [
    "lr_at",
    "train_one_epoch",
    "update_ema",
    "fit_words",
    "evaluate",
    "predict_proba",
    "fit",
    "train_table",
    "fold_splits",
    "evaluate_table",
    "HISTORY_COLUMNS",
]

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ["epoch", "train_loss", "val_loss", "val_auc", "val_acc", "val_sens", "val_spec", "val_mcc", "val_auprc"]


def lr_at(step, d_model, lr_scale, warmup):
    """The seed's (Noam) schedule: ``lr_scale * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)``.

    ``step`` counts optimiser steps from 1; the peak is at ``step == warmup``.
    """
    step = max(int(step), 1)
    return lr_scale * d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)


def _autocast(device):
    # bf16 on CUDA (tensor cores, no loss scaling needed); plain fp32 on CPU
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def _progress(iterable, desc):
    return tqdm(iterable, desc=desc, file=sys.stderr, leave=False, disable=not sys.stderr.isatty())


def train_one_epoch(model, loader, optimizer, state, model_cfg, train_cfg, device, generator, ema=None):
    """One pass over ``loader`` with augmentation; returns the mean binary cross-entropy.

    ``state["step"]`` (optimiser steps so far) is advanced and sets the
    learning rate of each step; ``generator`` drives the augmentations;
    ``ema`` (a copy of ``model``), when given, follows the weights (:func:`update_ema`).
    With ``train_cfg.consistency`` > 0 the last quarter of each batch is
    replaced by second copies of its first quarter, mutated apart, and the loss
    adds ``consistency`` x their squared logit difference: changes that keep
    the label should keep the score, which the labels alone do not ask for.
    """
    model.train()
    total, count = 0.0, 0
    for tokens, lengths, labels in _progress(loader, "train"):
        if train_cfg.rc_augment:
            tokens = reverse_complement_batch(tokens, lengths, generator)
        pairs = len(labels) // 4 if train_cfg.consistency else 0
        if pairs:  # the batch's last quarter: second copies of its first, changed apart below, to score alike
            tokens, lengths, labels = (torch.cat([t[:-pairs], t[:pairs]]) for t in (tokens, lengths, labels))
        tokens = mutate_batch(tokens, lengths, train_cfg.nmute, generator)
        tokens = indel_batch(tokens, lengths, train_cfg.max_indel, generator)
        state["step"] += 1
        for group in optimizer.param_groups:
            group["lr"] = lr_at(state["step"], model_cfg.d_model, train_cfg.lr_scale, train_cfg.warmup)
        tokens, lengths, labels = (t.to(device, non_blocking=True) for t in (tokens, lengths, labels))
        with _autocast(device):
            logits = model.member_logits(tokens, lengths)  # (B, members)
        if train_cfg.label_smoothing:
            labels = labels * (1 - train_cfg.label_smoothing) + train_cfg.label_smoothing / 2
        # each member's mean loss, summed, and its gradient clipped alone: each member steps as it would alone
        losses = F.binary_cross_entropy_with_logits(logits.float(), labels[:, None].expand_as(logits), reduction="none").mean(dim=0)
        loss = losses.sum()
        if pairs:
            gap = logits[:pairs].float() - logits[-pairs:].float()  # (pairs, members)
            loss = loss + train_cfg.consistency * gap.pow(2).mean(dim=0).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if train_cfg.grad_clip:
            for part in model.parts():
                torch.nn.utils.clip_grad_norm_(part.parameters(), train_cfg.grad_clip)
        optimizer.step()
        if ema is not None:
            update_ema(ema, model, train_cfg.ema_decay, state["step"])
        total += losses.mean().item() * len(labels)
        count += len(labels)
    return total / max(count, 1)


@torch.no_grad()
def update_ema(ema, model, decay, step):
    """Move ``ema``'s weights towards ``model``'s: ema = d * ema + (1 - d) * weights.

    ``d`` is ``min(decay, (1 + step) / (10 + step))``, so the first steps'
    random weights are soon forgotten (TensorFlow's ExponentialMovingAverage).
    """
    d = min(decay, (1 + step) / (10 + step))
    for e, w in zip(ema.parameters(), model.parameters()):
        e.lerp_(w, 1.0 - d)


@torch.inference_mode()
def _logits(model, loader, device):
    model.eval()
    out = []
    for tokens, lengths, _ in _progress(loader, "eval"):
        with _autocast(device):
            out.append(model(tokens.to(device, non_blocking=True), lengths.to(device, non_blocking=True)).float().cpu())
    return torch.cat(out) if out else torch.empty(0)


def evaluate(model, loader, device):
    """Loss and :func:`~ntpipe.metrics.binary_metrics` of ``model`` over ``loader``.

    Returns
    -------
    metrics : dict (``loss`` plus the binary metrics)
    prob : numpy float32 array of the predicted probabilities, in loader order
    """
    logits = _logits(model, loader, device)
    labels = torch.from_numpy(loader.dataset.labels)
    loss = F.binary_cross_entropy_with_logits(logits, labels).item() if len(labels) else math.nan
    prob = torch.sigmoid(logits).numpy().astype(np.float32)
    return {"loss": loss, **binary_metrics(loader.dataset.labels >= 0.5, prob)}, prob


def predict_proba(model, tokens, lengths=None, batch_size=256, device="cpu"):
    """Probabilities (n,) float32 of a model on tokens (n, L) with true lengths (n,) or None."""
    device = resolve_device(device) if isinstance(device, str) and device == "auto" else torch.device(device)
    tokens = np.asarray(tokens, dtype=np.uint8)
    dataset = SequenceDataset(tokens, lengths, np.zeros(len(tokens), dtype=np.float32))
    loader = make_loader(dataset, batch_size, pin_memory=device.type == "cuda")
    model.to(device)
    return torch.sigmoid(_logits(model, loader, device)).numpy().astype(np.float32)


# --- files, each written under a temporary name and renamed -------------------------------


def _json_ready(obj):
    """NaN -> None so that the JSON is standard."""
    obj = _plain(obj)
    if isinstance(obj, dict):
        return {k: _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _write_text(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _write_json(path, obj):
    _write_text(path, json.dumps(_json_ready(obj), indent=2) + "\n")


def _write_history(path, history):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, HISTORY_COLUMNS, delimiter="\t", extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    _write_text(path, buf.getvalue())


def _save_figure(fig, path):
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def _plot_curves(path, history):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax1.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation")
    ax1.set(xlabel="epoch", ylabel="loss (BCE)", title="loss")
    ax1.legend()
    ax2.plot(epochs, [h["val_auc"] for h in history], "o-", label="AUC")
    ax2.plot(epochs, [h["val_mcc"] for h in history], "o-", label="MCC")
    ax2.set(xlabel="epoch", ylim=(-0.05, 1.02), title="validation")
    ax2.legend()
    _save_figure(fig, path)


def _plot_roc_pr(path, y_true, prob):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 4))
    if 0 < int(np.sum(y_true)) < len(y_true):
        fpr, tpr, _ = roc_curve(y_true, prob)
        precision, recall, _ = precision_recall_curve(y_true, prob)
        m = binary_metrics(y_true, prob)
        ax1.plot(fpr, tpr, label=f"AUC {m['auc']:.3f}")
        ax2.plot(recall, precision, label=f"AUPRC {m['auprc']:.3f}")
        ax2.axhline(np.mean(y_true), color="grey", ls=":", label="chance")
    ax1.plot([0, 1], [0, 1], color="grey", ls=":")
    ax1.set(xlabel="false positive rate", ylabel="true positive rate", title="test ROC")
    ax2.set(xlabel="recall", ylabel="precision", title="test precision-recall")
    for ax in (ax1, ax2):
        ax.legend(loc="lower right" if ax is ax1 else "lower left")
    _save_figure(fig, path)


# --- fit ---------------------------------------------------------------------------------


def _check_split(name, split):
    if isinstance(split, (SequenceDataset, WindowDataset)):
        if len(split) == 0:
            raise ValueError(f"{name} set is empty")
        return split
    if split is None or len(split) != 3:
        raise ValueError(f"{name} must be a (tokens, lengths or None, labels) tuple")
    tokens, lengths, labels = split
    if len(tokens) == 0:
        raise ValueError(f"{name} set is empty")
    return SequenceDataset(tokens, lengths, labels)


def _rng_state(generators, device):
    state = {"torch": torch.get_rng_state(), **{k: g.get_state() for k, g in generators.items()}}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state, generators, device):
    torch.set_rng_state(state["torch"])
    for k, g in generators.items():
        g.set_state(state[k])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _fingerprint(*datasets):
    """SHA-1 of the training and validation data and of the training code, so a checkpoint resumes only on the
    same data with the same code (after an upgrade of ntpipe, a forced rerun trains afresh)."""
    from . import config, data, encoding, model, trainset

    h = hashlib.sha1(source_digest(sys.modules[__name__], config, data, encoding, model, trainset).encode())
    for d in datasets:
        for a in d.digest_arrays():
            h.update(str(a.shape).encode())
            h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()


# training settings a resumed run may change: how long it runs, and how it is fed and evaluated
_RESUMABLE = ("epochs", "num_workers", "eval_batch_size")


def _same_training(saved, train_cfg):
    current = {k: v for k, v in asdict(train_cfg).items() if k not in _RESUMABLE}
    return {k: v for k, v in (saved or {}).items() if k not in _RESUMABLE} == current


def _load_checkpoint(path, model, optimizer, model_cfg, train_cfg, fingerprint, generators, device, best_model, ema=None):
    """Restore a checkpoint in place and return it; None when it is for another
    model, other training settings or other data, or when the best epoch's
    model (``best_model``) it relies on is gone."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        log.warning("ignoring unreadable checkpoint %s (%s): starting over", path, type(err).__name__)
        return None
    if ckpt.get("model_config") != asdict(model_cfg) or ckpt.get("data") != fingerprint:
        log.warning("%s was written for another model config, other data or other training code: starting over", path)
        return None
    if not _same_training(ckpt.get("train_config"), train_cfg):
        log.warning("%s was written with other training settings: starting over", path)
        return None
    if ckpt["best"]["epoch"] > 0 and not os.path.exists(best_model):
        log.warning("%s: the best epoch's model %s is gone: starting over", path, best_model)
        return None
    model.load_state_dict(ckpt["model"])
    if ema is not None:
        ema.load_state_dict(ckpt["ema"])
    optimizer.load_state_dict(ckpt["optimizer"])
    _set_rng_state(ckpt["rng"], generators, device)
    log.info("resuming from %s after epoch %d", path, ckpt["epoch"])
    return ckpt


_NO_VALIDATION = dict.fromkeys(("loss", "auc", "acc", "sens", "spec", "mcc", "auprc"), math.nan)


def _is_better(row, best):
    """Validation AUC decides; the loss only when AUC is undefined (one class);
    without a validation set, the latest epoch."""
    if best["epoch"] == 0 or not (math.isfinite(row["val_auc"]) or math.isfinite(row["val_loss"])):
        return True
    if math.isfinite(row["val_auc"]):
        return row["val_auc"] > best["score"]
    return -row["val_loss"] > best["score"]


def _record_epoch(run, train_loss, val, patience):
    """Append the epoch to the history; update the best epoch and the early stop."""
    row = {"epoch": run["epoch"], "train_loss": train_loss, **{f"val_{k}": val[k] for k in ("loss", "auc", "acc", "sens", "spec", "mcc", "auprc")}}
    run["history"].append(row)
    if val is _NO_VALIDATION:
        log.info("epoch %d: train_loss %.4f (no validation set)", row["epoch"], train_loss)
    else:
        log.info("epoch %d: train_loss %.4f val_loss %.4f val_auc %.4f val_mcc %.4f", row["epoch"], train_loss, val["loss"], val["auc"], val["mcc"])
    if _is_better(row, run["best"]):
        score = row["val_auc"] if math.isfinite(row["val_auc"]) else -row["val_loss"]
        run["best"] = {"epoch": row["epoch"], "score": score, "bad": 0, "metrics": dict(val)}
    else:
        run["best"]["bad"] += 1
    run["stopped"] = run["best"]["bad"] >= patience
    if run["stopped"]:
        log.info("early stop: no better validation AUC for %d epochs (best epoch %d)", patience, run["best"]["epoch"])


WORD_FIT_EXAMPLES = 20_000  # at most this many training examples fit the word term (half with the mark)
HARD_NEGATIVE_POOL = 200_000  # negatives scored for the hard-negative draw: at most this many, or 10 epochs' worth


@torch.no_grad()
def fit_words(model, dataset, l1, seed, device):
    """Fit each part's sparse k-mer term (``kmer_words``) alone, as
    :func:`~ntpipe.baseline.sparse_logistic` of strength ``l1``, on a seeded draw of
    at most :data:`WORD_FIT_EXAMPLES` of ``dataset`` (with and without the mark, half each
    where there are enough); returns what it kept, for the log (``"248 of 65536 8-mers weigh"``).
    With ``word_gates``, a second fit of the same strength on the words, their
    products with the first fit's standardised score and that score gives the
    term (the first fit's score stays inside it)."""
    targets = np.asarray(dataset.labels, dtype=np.float64)
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(targets > 0), np.flatnonzero(targets <= 0)
    n_pos = min(len(pos), max(WORD_FIT_EXAMPLES // 2, WORD_FIT_EXAMPLES - len(neg)))
    n_neg = min(len(neg), WORD_FIT_EXAMPLES - n_pos)
    chosen = np.concatenate([rng.choice(pos, n_pos, replace=False), rng.choice(neg, n_neg, replace=False)])
    term = model.parts()[0].kmer_words
    rows, labels = [], []
    for tokens, lengths, batch_labels in make_loader(dataset, 256, sampler=chosen.tolist()):
        sizes = []  # the term's frequencies, one sparse matrix per size, side by side
        for k, scale in zip(term.ks, term.scales):
            codes, counted = (t.cpu().numpy() for t in term.codes(tokens.to(device), lengths.to(device), k))
            row = np.broadcast_to(np.arange(len(codes))[:, None], codes.shape)[counted]
            scale = scale / np.maximum(counted.sum(axis=1), 1)
            sizes.append(scipy.sparse.csr_matrix((scale[row], (row, codes[counted])), shape=(len(codes), 4**k)))
        rows.append(scipy.sparse.hstack(sizes).tocsr())
        labels.append(batch_labels.numpy())
    x, y = scipy.sparse.vstack(rows).tocsr(), np.concatenate(labels)
    weights, intercept = sparse_logistic(x, y, l1)
    fitted = {"linear": (weights, intercept)}
    if term.gated:
        score = x @ weights + intercept
        mean, sd = score.mean(), max(score.std(), 1e-6)
        z = (score - mean) / sd
        both, intercept2 = sparse_logistic(scipy.sparse.hstack([x, scipy.sparse.diags(z) @ x, z[:, None]]), y, l1)
        d = x.shape[1]
        fitted = {"first": (weights, intercept), "linear": (both[:d], intercept2), "gate": (both[d: 2 * d], both[2 * d])}
    for part in model.parts():
        for name, (w, b) in fitted.items():
            getattr(part.kmer_words, name).weight.copy_(torch.as_tensor(w, dtype=torch.float32)[None])
            getattr(part.kmer_words, name).bias.fill_(float(b))
        if term.gated:
            part.kmer_words.first_scale.copy_(torch.tensor([mean, sd], dtype=torch.float32))
    kept = " and ".join(f"{np.count_nonzero(fitted['linear'][0][a:b])} of {b - a} {k}-mers"
                        for k, a, b in zip(term.ks, term.offsets, term.offsets[1:])) + " weigh"
    if term.gated:
        kept += (f" alone and {np.count_nonzero(fitted['gate'][0])} beside the first fit's"
                 f" {np.count_nonzero(weights)} (word_gates)")
    return kept


def _train_sampler(train_set, train_cfg, generator, words=None, device=None):
    """Fresh negatives every epoch for genome windows; every row, reshuffled, for tables.

    With ``train_cfg.hard_negatives`` h (and a fitted word term ``words``), a negative is
    drawn with weight (1 - h) / n + h x its share of the word term's probabilities: the
    windows the words call marked and the mark is not (a decoy, words out of order) come
    up more often, so that what the words cannot tell apart the rest learns. The word term
    scores at most :data:`HARD_NEGATIVE_POOL` negatives, or ten epochs' worth where that is
    more (drawn with ``train_cfg.seed``; all where there are no more): the others keep the first
    share, so that on a whole genome the scoring costs a few epochs, not hours.
    """
    if not isinstance(train_set, WindowDataset):
        return None
    weights = gc_match_weights(train_set.examples) if train_cfg.gc_match else None
    if train_cfg.hard_negatives and words is not None:
        plain = EpochSampler(train_set.labels, train_cfg.negative_ratio, generator, epoch_size=train_cfg.epoch_size)
        neg, pool = plain.neg, max(HARD_NEGATIVE_POOL, 10 * plain.n_neg)  # every negative; ten epochs' worth
        scored = neg
        if len(neg) > pool:
            # seeded apart from the epochs' draws: a resumed run scores the same ones and draws as before
            scored = np.sort(np.random.default_rng(train_cfg.seed).choice(neg, pool, replace=False))
        prob = torch.sigmoid(_logits(words, make_loader(train_set, 256, sampler=scored.tolist()), device).double()).numpy()
        hard = np.zeros(len(train_set))
        hard[neg] = (1 - train_cfg.hard_negatives) / len(neg)
        hard[scored] += train_cfg.hard_negatives * prob / prob.sum()
        weights = hard if weights is None else weights * hard
        top = np.sort(prob)[::-1][: max(1, len(prob) // 100)]
        log.info("hard negatives: %.0f%% of each epoch's negatives drawn by the word term's probability "
                 "(its top 1%% of %d negatives scored, of %d, at %.2f-%.2f)", 100 * train_cfg.hard_negatives,
                 len(scored), len(neg), top[-1], top[0])
    return EpochSampler(train_set.labels, train_cfg.negative_ratio, generator, weights, train_cfg.epoch_size)


def fit(train, valid, model_cfg, train_cfg, out_dir, test=None, meta=None, device="auto"):
    """Train a model with early stopping on validation AUC; resume from a checkpoint.

    Parameters
    ----------
    train, valid, test : (tokens uint8 (n, L), lengths (n,) or None, labels (n,)) tuples,
        or datasets (:class:`~ntpipe.data.SequenceDataset`, :class:`~ntpipe.data.WindowDataset`:
        its training examples are drawn per epoch by :class:`~ntpipe.data.EpochSampler`).
        ``valid`` None: no early stopping, ``train_cfg.epochs`` epochs, the last one's weights kept.
    model_cfg : :class:`~ntpipe.config.ModelConfig`
    train_cfg : :class:`~ntpipe.config.TrainConfig`
    out_dir : folder for model.pt, checkpoint.pt, history.tsv, curves.png,
        roc_pr.png (with ``test``) and metrics.json. When it holds a
        checkpoint.pt of the same model config and data, training resumes
        after the checkpoint's epoch (up to ``train_cfg.epochs``); a
        checkpoint of another model config or other data is ignored (warning)
        and overwritten.
    meta : dict stored in model.pt's ``meta`` (plus ``best_epoch`` and ``metrics``);
        a resumed run starts from the checkpoint's meta, updated with this one
    device : "auto", "cpu", "cuda" or a torch.device

    Returns
    -------
    dict: test metrics when ``test`` is given, else the validation metrics of
    the best epoch, plus ``best_epoch`` and ``epochs_run`` (NaN written as None).
    """
    check_together(model_cfg, train_cfg)
    train_set = _check_split("train", train)
    valid_set = _check_split("valid", valid) if valid is not None else None
    test_set = _check_split("test", test) if test is not None else None
    device = resolve_device(device)
    os.makedirs(out_dir, exist_ok=True)
    paths = {name: os.path.join(out_dir, name) for name in ("model.pt", "checkpoint.pt", "history.tsv", "curves.png", "roc_pr.png", "metrics.json")}

    torch.manual_seed(train_cfg.seed)
    generators = {"shuffle": torch.Generator().manual_seed(train_cfg.seed), "augment": torch.Generator().manual_seed(train_cfg.seed + 1)}
    model = from_config(model_cfg).to(device)
    # AdamW with weight_decay 0 takes exactly Adam's steps
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.0, betas=(0.9, 0.999), eps=1e-8, weight_decay=train_cfg.weight_decay)
    # the weights validated and kept: the model's own, or their moving average
    ema = copy.deepcopy(model).requires_grad_(False) if train_cfg.ema_decay else None
    scored = model if ema is None else ema
    # everything about the run that a checkpoint must bring back, besides weights and RNGs
    run = {"epoch": 0, "step": 0, "history": [], "best": {"epoch": 0, "score": -math.inf, "bad": 0}, "stopped": False,
           "meta": dict(meta or {}), "data": _fingerprint(*(d for d in (train_set, valid_set) if d is not None))}
    if os.path.exists(paths["checkpoint.pt"]):
        ckpt = _load_checkpoint(paths["checkpoint.pt"], model, optimizer, model_cfg, train_cfg, run["data"], generators, device,
                                paths["model.pt"], ema)
        if ckpt is not None:
            run.update({k: ckpt[k] for k in run if k != "meta"})
            run["meta"] = {**ckpt["meta"], **run["meta"]}  # a resumed run keeps the first run's meta

    cuda = device.type == "cuda"
    batch_size = train_cfg.cuda_batch_size if cuda else train_cfg.batch_size
    loader_args = {"num_workers": train_cfg.num_workers, "pin_memory": cuda}
    valid_loader = make_loader(valid_set, train_cfg.eval_batch_size, **loader_args) if valid_set is not None else None

    if model_cfg.kmer_words:  # the sparse word term first, alone, then fixed
        if run["epoch"] == 0:  # a fresh run (a resumed one has the term in its checkpoint)
            kept = fit_words(model, train_set, train_cfg.kmer_l1, train_cfg.seed, device)
            if ema is not None:
                ema.load_state_dict(model.state_dict())
            alone = "-"
            if valid_loader is not None:  # what the words reach without the transformer
                alone = f"{evaluate(model.parts()[0].kmer_words, valid_loader, device)[0]['auc']:.3f}"
            log.info("word term fitted: %s; its validation AUC alone %s", kept, alone)
        for part in model.parts():
            part.kmer_words.requires_grad_(False)
    words = model.parts()[0].kmer_words if model_cfg.kmer_words else None
    sampler = _train_sampler(train_set, train_cfg, generators["shuffle"], words, device)
    train_loader = make_loader(train_set, batch_size, shuffle=True, generator=generators["shuffle"], sampler=sampler, **loader_args)

    while run["epoch"] < train_cfg.epochs and not run["stopped"]:
        run["epoch"] += 1
        train_loss = train_one_epoch(model, train_loader, optimizer, run, model_cfg, train_cfg, device, generators["augment"], ema)
        val = evaluate(scored, valid_loader, device)[0] if valid_loader is not None else _NO_VALIDATION
        _record_epoch(run, train_loss, val, train_cfg.patience if valid_loader is not None else math.inf)
        if run["best"]["epoch"] == run["epoch"]:
            save_model(paths["model.pt"], scored, model_cfg, {**run["meta"], "best_epoch": run["epoch"], "metrics": val})
        checkpoint = {"model_config": asdict(model_cfg), "train_config": asdict(train_cfg), "model": model.state_dict(),
                      "optimizer": optimizer.state_dict(), "rng": _rng_state(generators, device), **_plain(run)}
        if ema is not None:
            checkpoint["ema"] = ema.state_dict()
        with atomic_path(paths["checkpoint.pt"]) as tmp:
            torch.save(checkpoint, tmp)
        _write_history(paths["history.tsv"], run["history"])
    if not os.path.exists(paths["history.tsv"]):  # a finished run resumed: its outputs were removed
        _write_history(paths["history.tsv"], run["history"])
    _plot_curves(paths["curves.png"], run["history"])  # once the run ends: a plot per epoch cost 0.3-0.6 s

    best, history = run["best"], run["history"]
    if best["epoch"] == 0:
        raise ValueError(f"no epoch trained in {out_dir!r} (epochs={train_cfg.epochs})")
    if test_set is not None:
        best_model, _, _ = load_model(paths["model.pt"], device)
        metrics, prob = evaluate(best_model, make_loader(test_set, train_cfg.eval_batch_size, **loader_args), device)
        _plot_roc_pr(paths["roc_pr.png"], test_set.labels >= 0.5, prob)
    else:
        metrics = dict(best["metrics"])
    metrics = _json_ready({**metrics, "best_epoch": best["epoch"], "epochs_run": len(history)})
    if valid_set is not None:
        _write_json(paths["metrics.json"], metrics)
    return metrics


# --- tables (the CLI) ----------------------------------------------------------------------


def _subset(split, idx):
    tokens, lengths, labels = split
    lengths_i = lengths[idx]
    return tokens[idx, : int(lengths_i.max())], lengths_i, labels[idx]


def _configs(preset, tokens, epochs, batch_size, seed, overrides=None):
    """Model and training configs of ``preset``; ``overrides`` keys go to whichever config has the field."""
    overrides = dict(overrides or {})
    model_keys = set(ModelConfig.__dataclass_fields__)
    train_keys = set(TrainConfig.__dataclass_fields__)
    unknown = sorted(set(overrides) - model_keys - train_keys)
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(map(repr, unknown))}: not a ModelConfig or TrainConfig field")
    mcfg = model_config(preset, **{k: v for k, v in overrides.items() if k in model_keys})
    mcfg.max_len = max(mcfg.max_len, tokens.shape[1])
    train_overrides = {"seed": seed, **{k: v for k, v in overrides.items() if k in train_keys}}
    if epochs is not None:
        train_overrides["epochs"] = epochs
    if batch_size is not None:
        train_overrides["batch_size"] = batch_size  # and the GPU's, unless a cuda_batch_size is set too
    return mcfg, train_config(preset, **train_overrides)


STRANDED = 0.02  # a mean strand gap (below) from which a table trains without reverse-complement augmentation


def _strand_gaps(data, seed):
    """:func:`~ntpipe.baseline.strand_gaps` over 5 folds; None with fewer than 100 sequences of a label
    (too few to tell a strand from chance)."""
    from .baseline import strand_gaps

    if np.bincount(data[2], minlength=2).min() < 100:
        return None
    return strand_gaps(data, fold_splits(data[2], 5, seed), seed=seed)


def _stranded(gaps):
    """Whether a table's labels have a strand, as promoters do and a mark's windows not: every fold's
    gap above 0 and their mean at least :data:`STRANDED`."""
    return gaps is not None and min(gaps) > 0 and float(np.mean(gaps)) >= STRANDED


def fold_splits(labels, folds, seed=0):
    """The stratified, seeded K-fold split of :func:`train_table`: a list of (train_idx, valid_idx)."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels))


def _both_classes(path, labels, need=1):
    counts = np.bincount(labels, minlength=2)
    if counts.min() < need:
        raise ValueError(f"{path}: needs at least {need} sequence(s) of each label, has {counts[0]} of 0 and {counts[1]} of 1")


def train_table(sequences, out, valid=None, folds=None, preset="small", epochs=None, batch_size=None, device="auto", seed=0,
                overrides=None):
    """Train on a ``sequence<TAB>label`` table (``ntpipe train``).

    Parameters
    ----------
    sequences : training table (see :func:`ntpipe.data.read_table`)
    out : output folder
    valid : validation table; or
    folds : K for stratified, seeded K-fold cross-validation: fold ``i`` trains
        in ``out/fold{i}/`` with that fold held out for validation and early
        stopping; ``out/metrics.json`` holds every fold's metrics, their mean
        and ``best_fold``, and ``out/model.pt`` is a copy of the fold model with
        the highest validation AUC. With neither, a stratified, seeded 10% of
        the table is held out for validation.
    preset, epochs, batch_size, device, seed : model preset and training overrides
    overrides : dict of further :class:`~ntpipe.config.ModelConfig` or
        :class:`~ntpipe.config.TrainConfig` fields (``{"nmute": 18}``);
        unknown keys raise ValueError. Without ``rc_augment`` among them, a
        table whose labels have a strand (:func:`_stranded`) trains without
        reverse-complement augmentation.

    Returns
    -------
    The metrics dict (also written to ``out/metrics.json``), with
    ``kmer_baseline``: a 4-mer logistic regression's metrics on the same
    split (per fold under ``folds``, their mean beside), the floor a model
    must clear; the log says whether it does.

    Raises
    ------
    ValueError for a bad table or split, before anything is written to ``out``.
    """
    from sklearn.model_selection import train_test_split

    from .baseline import kmer_logistic, kmer_logistic_folds

    data = read_table(sequences)
    labels = data[2]
    vdata = read_table(valid) if valid is not None else None
    if valid is not None and folds is not None:
        raise ValueError("give either a validation table or a number of folds, not both")
    if folds is not None:
        if folds < 2:
            raise ValueError(f"folds must be at least 2, got {folds}")
        _both_classes(sequences, labels, need=folds)
    else:
        _both_classes(sequences, labels, need=2 if vdata is None else 1)
    tokens = data[0] if vdata is None or data[0].shape[1] >= vdata[0].shape[1] else vdata[0]
    meta = {"preset": preset, "overrides": dict(overrides or {}), "sequences": os.fspath(sequences),
            "valid": None if valid is None else os.fspath(valid)}
    lengths = np.concatenate([data[1]] + ([] if vdata is None else [vdata[1]]))
    meta["lengths"] = [int(lengths.min()), int(lengths.max())]  # for ntpipe predict, which cuts windows of one size
    if lengths.min() == lengths.max():
        meta["window"] = int(lengths.max())
    overrides = dict(overrides or {})
    mcfg, tcfg = _configs(preset, tokens, epochs, batch_size, seed, overrides)  # a bad setting fails first
    if "rc_augment" not in overrides and tcfg.rc_augment:
        meta["strand_gaps"] = _strand_gaps(data, seed)
        if _stranded(meta["strand_gaps"]):
            tcfg = replace(tcfg, rc_augment=False)
            log.info("%s: the labels have a strand (a 3-mer regression scores held-out sequences %.3f AUC better than "
                     "their reverse complements): reverse-complement augmentation off (--set rc_augment=true keeps it)",
                     sequences, np.mean(meta["strand_gaps"]))
    meta["rc_augment"] = tcfg.rc_augment
    chosen = {k: meta[k] for k in ("rc_augment", "strand_gaps") if k in meta}  # also in metrics.json

    # the 4-mer floor first: seconds, and nothing is written if it cannot be fitted
    if vdata is not None:
        floor = kmer_logistic(data, vdata, seed=seed)
        metrics = fit(data, vdata, mcfg, tcfg, out, meta={**meta, "n_train": len(labels)}, device=device)
        return _with_baseline(out, {**metrics, **chosen}, floor)
    if folds is None:
        train_idx, valid_idx = train_test_split(np.arange(len(labels)), test_size=0.1, stratify=labels, random_state=seed)
        train, held = _subset(data, train_idx), _subset(data, valid_idx)
        floor = kmer_logistic(train, held, seed=seed)
        metrics = fit(train, held, mcfg, tcfg, out, meta={**meta, "n_train": len(train_idx)}, device=device)
        return _with_baseline(out, {**metrics, **chosen}, floor)

    splits = list(fold_splits(labels, folds, seed))
    baselines = kmer_logistic_folds(data, splits, seed=seed)
    per_fold = []
    for i, (train_idx, valid_idx) in enumerate(splits):
        fold_dir = os.path.join(out, f"fold{i}")
        m = fit(_subset(data, train_idx), _subset(data, valid_idx), mcfg, tcfg, fold_dir, meta={**meta, "fold": i, "folds": folds, "n_train": len(train_idx)}, device=device)
        per_fold.append(m)
    keys = ["auc", "auprc", "acc", "mcc", "sens", "spec"]
    mean = _fold_mean(per_fold, keys)
    aucs = [-math.inf if m["auc"] is None else m["auc"] for m in per_fold]
    best_fold = int(np.argmax(aucs))
    with atomic_path(os.path.join(out, "model.pt")) as tmp:
        shutil.copyfile(os.path.join(out, f"fold{best_fold}", "model.pt"), tmp)
    baseline = {**_fold_mean(baselines, keys), "folds": baselines}
    return _with_baseline(out, {"folds": per_fold, "mean": mean, "best_fold": best_fold, **mean, **chosen}, baseline)


def _fold_mean(per_fold, keys):
    """Mean of each metric over the folds, those without it (None) left out."""
    return {k: float(np.nanmean([np.nan if m[k] is None else m[k] for m in per_fold])) for k in keys}


def _with_baseline(out, metrics, baseline):
    """``metrics`` with the 4-mer logistic regression's on the same split, written to ``out/metrics.json``
    and said in the log: a warning where the model's validation AUC does not beat it (:func:`~ntpipe.metrics.below_floor`),
    overall and, under ``folds``, on each fold."""
    metrics = _json_ready({**metrics, "kmer_baseline": baseline})
    _write_json(os.path.join(out, "metrics.json"), metrics)
    auc, floor = metrics.get("auc"), metrics["kmer_baseline"].get("auc")
    line = f"validation AUC {format_auc(auc)}; a 4-mer logistic regression on the same split {format_auc(floor)}"
    if below_floor(auc, floor):
        log.warning("%s: the model does not beat k-mer counts on this split", line)
    else:
        log.info("%s", line)
    for i, (fold, fold_floor) in enumerate(zip(metrics.get("folds", []), metrics["kmer_baseline"].get("folds", []))):
        if below_floor(fold["auc"], fold_floor["auc"]):
            log.warning("fold %d: validation AUC %s; the 4-mer logistic regression %s: the model does not beat k-mer counts "
                        "on this fold", i, format_auc(fold["auc"]), format_auc(fold_floor["auc"]))
    return metrics


def evaluate_table(model_path, sequences, device="auto", batch_size=256):
    """Metrics of a saved model on a ``sequence<TAB>label`` table (``ntpipe evaluate``)."""
    tokens, lengths, labels = read_table(sequences)
    device = resolve_device(device)
    model, cfg, meta = load_model(model_path, device)
    window = (meta or {}).get("window")
    if window and not lengths.min() == lengths.max() == window:
        log.warning("%s: sequences of %d-%d bp, but %s was trained on %d bp windows: its figures may not carry over",
                    sequences, lengths.min(), lengths.max(), model_path, window)
    if tokens.shape[1] > cfg.max_len:
        raise ValueError(f"{sequences}: sequences up to {tokens.shape[1]} bp, longer than the model's max_len {cfg.max_len}")
    prob = predict_proba(model, tokens, lengths, batch_size=batch_size, device=device)
    return _json_ready(binary_metrics(labels, prob))
