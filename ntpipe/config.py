"""Configuration dataclasses for the model and its training (no torch here).

``PRESETS`` holds two named settings:

- ``seed``: the seed notebook's runs (d_model 512, 8 heads, feed-forward 2048,
  6 layers, k-mer 13, dropout 0.1) with its training schedule (lr_scale 0.1,
  warmup 3200 steps, batch 64).
- ``small``: a CPU-sized model for the demo and the tests (d_model 32, 4
  heads, feed-forward 64, 2 layers, k-mer 13). Tokens are max-pooled by 8
  after the k-mer convolution, so a 1 kb window becomes 123 tokens; max, not
  mean, because a motif seen by one k-mer token must survive the pooling (with
  mean pooling the model did not leave chance on the 1 kb demo windows in the
  CPU budget; measured). Its training warms up for 300 steps instead of 3200:
  with 3200, a run of a few hundred steps never leaves warmup and its learning
  rate stays tiny. Its encoder layers start with no attention or feed-forward contribution
  (``zero_init_residual``: their output projections are zero at init, so the
  model starts as k-mer convolution -> pooling -> GeM and the layers grow in):
  on the demo's 1 kb windows, drawn afresh each epoch, the default init kept
  the training loss at 0.69 (chance) for 20 epochs of 2,000 windows at a
  constant 1e-3, while with it the loss fell from the second epoch (measured
  with and without, same data and seed). It is regularised against
  memorising loci: reverse-complement augmentation, ``nmute`` 18 random
  point mutations per sequence (the seed notebook's), weight decay 0.05
  (AdamW) and dropout 0.1, for up to 30 epochs with patience 6. On the real
  rice sets (one fold of H3K27me3) each of these helped alone and together
  they gave AUC 0.910 against 0.893 for none; on the demo's hold-out
  chromosome they matched (H3K4me3 0.657 vs 0.656) or helped (H3K27me3 0.555
  vs 0.526) at the demo's epoch cap (``benchmarks/ablations.md``,
  ``benchmarks/quality.md``). Sets with a strand, such as E. coli promoters,
  train better without reverse-complement augmentation (0.874 vs 0.903).
  Beside the transformer's logit sits a linear term over the sequence's
  4-mer frequencies (``kmer_linear``: the 4-mer logistic regression the model
  must beat, learnt with it, its weights starting at zero): on every real set
  (5-fold CV, the same folds) it lifted the AUC, H3K4me3 0.927 -> 0.935,
  H3K27me3 0.886 / 0.882 (two seeds) -> 0.894, H3K9ac 0.943 / 0.945 -> 0.949,
  E. coli 0.921 -> 0.927; 3-mers and 5-mers gained less or lost, 6-mers lost
  (``benchmarks/ablations.md``).

Neither preset has ``kmer_words``, a second k-mer term that training fits
first, alone, as an L1-penalised logistic regression (``TrainConfig.kmer_l1``:
a few hundred non-zero weights on the demo), and keeps fixed while the rest trains. The
shipped config sets [6, 8]: on the demo's grammar of 8-10 bp words among decoys the
transformer alone recalled the training loci and missed the words, and the
sparse regression finds them (``benchmarks/ablations.md``, "Words first"); the
6-mers read an outside panel's 6 bp motifs. Nor do they set
``TrainConfig.hard_negatives`` (the config: 0.8), which draws that share of each
epoch's negatives by the word term's probability, so that the decoys its
words call marked are learnt (``benchmarks/ablations.md``, "Short words; hard negatives").
Its ``word_gates`` refit (the words, their products with the first fit's
score, that score) lets a word weigh only beside others: the demo sets it for
H3K27me3, whose repressive cluster counts only beside a core promoter
(planted variants 0.86 -> 0.98-0.99; for H3K4me3 it cost the tracks' AUPRC
0.04: ``benchmarks/ablations.md``, "A word that matters only beside others").
Nor do they set ``TrainConfig.consistency`` or ``min_wavelength``; the demo's
config sets 0.3 and 200 (changed copies of a window pulled to one score,
positions placed to tens of bases, not to one): a variety's indels then
move its scores about a quarter as much (``benchmarks/ablations.md``, "Asked to score alike").

Both presets build one model (``members`` 1). ``members=3`` averages three
copies initialised apart (a deep ensemble; :class:`ntpipe.model.Ensemble`):
+0.001-0.005 AUC on the rice tables for three times the training and the
prediction, worth it for a table, not for a genome's millions of windows.
"""

import json
from dataclasses import dataclass, field, fields, replace

__all__ = ["ModelConfig", "TrainConfig", "PRESETS", "model_config", "train_config", "check_together", "from_dict",
           "parse_settings"]


@dataclass
class ModelConfig:
    """Nucleic Transformer hyper-parameters (see :mod:`ntpipe.model`)."""

    vocab_size: int = 5  # A, C, G, T, N
    d_model: int = 512
    n_heads: int = 8
    d_ff: int = 2048
    n_layers: int = 6
    kmers: list[int] = field(default_factory=lambda: [13])
    dropout: float = 0.1
    attn_dropout: float | None = None  # dropout on attention weights; None = ``dropout`` (the seed)
    pool: int = 1  # max-pool tokens by this factor after the k-mer conv; 1 = none
    gem_p: float = 3.0  # initial GeM exponent (learnable)
    zero_init_residual: bool = False  # attention and FFN output projections start at zero (layers grow in)
    max_len: int = 4096  # longest sequence the positional encoding covers
    # sinusoidal positions only at wavelengths of at least this many bases (0: all, down to 6): a shorter
    # wavelength changes under a shift of a few bases, and so does every score that reads it
    min_wavelength: int = 0
    kmer_linear: int = 0  # k of a linear term over the sequence's k-mer frequencies, added to the logit; 0 = none
    # k of a second such term, or a list of sizes fitted together: sparse, fitted first, alone, as an
    # L1-penalised logistic regression (TrainConfig.kmer_l1), then kept fixed while the rest trains; 0 or [] = none
    # (one size is given as an int, as model files of before lists hold it: __post_init__ makes it a list)
    kmer_words: list[int] | int = field(default_factory=list)
    # the word term refitted on its words and their products with its first fit's score (standardised), in
    # one more L1 fit: a word that matters only beside others (a core promoter beside a repressive cluster)
    word_gates: bool = False
    members: int = 1  # independently initialised copies, each trained on its own loss, logits averaged (a deep ensemble)

    def __post_init__(self):  # also for dataclasses.replace and a config read back from a model file
        # (types and ranges are _checked_types's; this checks only what no single field can)
        if isinstance(self.kmer_words, int):  # one size, as written before sizes could be listed
            self.kmer_words = [self.kmer_words] if self.kmer_words else []
        if len(set(self.kmer_words)) != len(self.kmer_words) or 0 in self.kmer_words:
            raise ValueError(f"ModelConfig.kmer_words must list each size once (or be 0 for none), got {self.kmer_words}")
        if self.word_gates and not self.kmer_words:
            raise ValueError("ModelConfig.word_gates needs kmer_words: it refits the word term's words")
        if isinstance(self.n_heads, int) and self.n_heads >= 1 and self.d_model % self.n_heads:
            raise ValueError(f"ModelConfig.d_model must be a multiple of n_heads ({self.n_heads}), got {self.d_model}")


@dataclass
class TrainConfig:
    """Optimisation settings (see :func:`ntpipe.train.fit`)."""

    epochs: int = 20
    batch_size: int = 64
    cuda_batch_size: int = 64  # batch size used on CUDA (see train_config)
    lr_scale: float = 0.1
    warmup: int = 3200
    nmute: int = 0  # random point mutations per training sequence
    max_indel: int = 0  # one random insertion or deletion of 1..max_indel bases per training sequence; 0 = none
    # weight of the squared logit difference between two copies of a window that nmute / max_indel changed
    # apart (a quarter of each batch is such second copies); 0 = none
    consistency: float = 0.0
    rc_augment: bool = True  # reverse-complement a random half of each batch
    patience: int = 5  # epochs without a better validation AUC before stopping
    grad_clip: float = 1.0
    weight_decay: float = 0.0  # decoupled (AdamW) weight decay; 0 = plain Adam
    label_smoothing: float = 0.0  # train on targets y * (1 - s) + s / 2; 0 = none
    # L1 strength per example of the fit of ModelConfig.kmer_words (sized for 2 kb windows: a shorter
    # sequence weighs each k-mer more, and so needs more)
    kmer_l1: float = 0.15
    ema_decay: float = 0.0  # validate and keep an exponential moving average of the weights; 0 = the weights themselves
    seed: int = 0
    num_workers: int = 0
    eval_batch_size: int = 256
    # labelled genome windows (the workflow; tables use every row every epoch):
    negative_ratio: float = 1.0  # negatives drawn afresh each epoch per example with the mark
    gc_match: bool = False  # draw negatives to match the positives' GC content
    # share of each epoch's negatives drawn by the word term's probability (ModelConfig.kmer_words): decoys
    # the words call marked come up more often; 0 = every negative alike
    hard_negatives: float = 0.0
    epoch_size: int | None = None  # at most this many examples per epoch (None: every positive + ratio x negatives)
    eval_size: int | None = 20000  # at most this many validation/test examples (a fixed, seeded draw)
    final_fit: bool = True  # after the hold-out run, refit on every chromosome for the tracks
    min_final_epochs: int = 2  # the final fit runs the hold-out run's best epoch count, at least this

    def __post_init__(self):  # as ModelConfig's: what no single field can check
        if self.consistency and not (self.nmute or self.max_indel):
            raise ValueError("TrainConfig.consistency needs nmute or max_indel above 0: its copies of a window must be "
                             f"changed apart, got consistency {self.consistency} with neither")


def check_together(model_cfg, train_cfg):
    """ValueError where a training setting needs a model setting the model lacks."""
    if train_cfg.hard_negatives and not model_cfg.kmer_words:
        raise ValueError(f"TrainConfig.hard_negatives ({train_cfg.hard_negatives}) needs ModelConfig.kmer_words: "
                         "the negatives are drawn by the word term's probability")


PRESETS = {
    "seed": {
        "model": ModelConfig(d_model=512, n_heads=8, d_ff=2048, n_layers=6, kmers=[13], dropout=0.1, pool=1),
        "train": TrainConfig(epochs=20, batch_size=64, cuda_batch_size=64, lr_scale=0.1, warmup=3200, nmute=0),
    },
    "small": {
        "model": ModelConfig(
            d_model=32, n_heads=4, d_ff=64, n_layers=2, kmers=[13], dropout=0.1, pool=8, zero_init_residual=True,
            kmer_linear=4,
        ),
        "train": TrainConfig(
            epochs=30, batch_size=32, cuda_batch_size=32, lr_scale=0.1, warmup=300, nmute=18, patience=6,
            rc_augment=True, weight_decay=0.05,
        ),
    },
}


def _preset(name):
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]


def model_config(preset="small", **overrides):
    """The :class:`ModelConfig` of a preset, with keyword overrides (unknown keys -> ValueError)."""
    return _override(_preset(preset)["model"], overrides)


def train_config(preset="small", **overrides):
    """The :class:`TrainConfig` of a preset, with keyword overrides (unknown keys -> ValueError).

    A ``batch_size`` without a ``cuda_batch_size`` sets both: an epoch counts windows, so a GPU at a larger
    batch would take fewer steps than the CPU, and the warmup and moving average count steps.
    """
    if "batch_size" in overrides:
        overrides.setdefault("cuda_batch_size", overrides["batch_size"])
    return _override(_preset(preset)["train"], overrides)


def _override(cfg, overrides):
    _check_keys(type(cfg), overrides)
    cfg = replace(cfg, **_checked_types(type(cfg), overrides))
    if isinstance(cfg, ModelConfig):
        cfg.kmers = list(cfg.kmers)  # never share the preset's list
    return cfg


def _check_keys(cls, d):
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {', '.join(map(repr, unknown))} (known: {', '.join(sorted(known))})")


def _checked_value(cls, name, kind, value):
    """``value`` as the field's type (an int is a valid float), or ValueError naming field and value."""
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif kind == list[int] | int:  # one size or a list of sizes
        one = isinstance(value, int) and not isinstance(value, bool)
        return _checked_value(cls, name, int if one else list[int], value)
    elif kind == list[int]:
        ok = isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        value = list(value) if ok else value
    elif kind in (float | None, int | None):
        return None if value is None else _checked_value(cls, name, kind.__args__[0], value)
    else:  # a field type this checker does not know: accept as given
        ok = True
    if not ok:
        expected = {bool: "true or false", int: "an integer", float: "a number"}.get(kind, "a list of integers")
        raise ValueError(f"{cls.__name__}.{name} must be {expected}, got {value!r} ({type(value).__name__})")
    return value


# the values a number field may take, beyond its type (fields not named here: any)
_AT_LEAST_1 = (lambda v: v >= 1, "at least 1")
_NOT_NEGATIVE = (lambda v: v >= 0, "0 or more")
_POSITIVE = (lambda v: v > 0, "above 0")
_FRACTION = (lambda v: 0 <= v < 1, "at least 0 and below 1")
_RANGES = {
    "vocab_size": _AT_LEAST_1, "d_model": _AT_LEAST_1, "n_heads": _AT_LEAST_1, "d_ff": _AT_LEAST_1,
    "n_layers": _NOT_NEGATIVE, "kmers": _AT_LEAST_1, "dropout": _FRACTION, "attn_dropout": _FRACTION,
    "pool": _AT_LEAST_1, "gem_p": _POSITIVE, "max_len": _AT_LEAST_1, "min_wavelength": _NOT_NEGATIVE,
    "kmer_linear": (lambda v: 0 <= v <= 8, "0 (none) to 8"), "kmer_words": (lambda v: 0 <= v <= 8, "0 (none) to 8"),
    "members": _AT_LEAST_1,
    "epochs": _AT_LEAST_1, "batch_size": _AT_LEAST_1, "cuda_batch_size": _AT_LEAST_1, "lr_scale": _POSITIVE,
    "warmup": _AT_LEAST_1, "nmute": _NOT_NEGATIVE, "max_indel": _NOT_NEGATIVE, "consistency": _NOT_NEGATIVE,
    "patience": _AT_LEAST_1, "grad_clip": _NOT_NEGATIVE,
    "weight_decay": _NOT_NEGATIVE, "label_smoothing": _FRACTION, "ema_decay": _FRACTION,
    "kmer_l1": _POSITIVE,
    "num_workers": _NOT_NEGATIVE, "eval_batch_size": _AT_LEAST_1, "negative_ratio": _POSITIVE,
    "hard_negatives": (lambda v: 0 <= v <= 1, "0 to 1"),
    "epoch_size": _AT_LEAST_1, "eval_size": (lambda v: v >= 2, "at least 2"), "min_final_epochs": _AT_LEAST_1,
}


def _checked_range(cls, name, value, given):
    """``value`` when it lies in the field's range (each item of a list), else ValueError naming the field and ``given``."""
    ok, expected = _RANGES.get(name, (lambda v: True, ""))
    items = value if isinstance(value, list) else [value]
    if not all(v is None or ok(v) for v in items):
        what = f"each item of {cls.__name__}.{name}" if isinstance(value, list) else f"{cls.__name__}.{name}"
        raise ValueError(f"{what} must be {expected}, got {given!r}")
    return value


def _checked_types(cls, d):
    kinds = {f.name: f.type for f in fields(cls)}
    return {name: _checked_range(cls, name, _checked_value(cls, name, kinds[name], value), value) for name, value in d.items()}


def from_dict(cls, d):
    """Build dataclass ``cls`` from a dict, rejecting keys it does not have.

    Parameters
    ----------
    cls : a dataclass type, e.g. :class:`ModelConfig`
    d : mapping of field name to value; missing fields take their defaults

    Raises
    ------
    ValueError naming every unknown key.
    """
    if d is None:
        d = {}
    _check_keys(cls, d)
    obj = cls(**_checked_types(cls, d))
    if isinstance(obj, ModelConfig):
        obj.kmers = [int(k) for k in obj.kmers]
    return obj


def parse_settings(pairs):
    """``["nmute=18", "kmers=[9,13]", "rc_augment=false"]`` -> dict; values read as JSON.

    The command line's ``--set``; which config holds each key, and whether its
    value fits, is checked where the configs are built.
    """
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"setting {pair!r} is not key=value")
        value = value.strip()
        lowered = value.lower()
        try:
            out[key.strip()] = json.loads(lowered if lowered in ("true", "false", "null") else value)
        except json.JSONDecodeError:
            raise ValueError(f"setting {pair!r}: value {value!r} is not a number, true/false, null or a JSON list") from None
    return out
