"""The Nucleic Transformer, in one file (read top-down).

tokens (B, L) -> Embedding -> sinusoidal positions -> k-mer aggregation (one
Conv1d per k, joined along the sequence, LayerNorm) -> optional max pooling
of tokens -> post-norm encoder layers (self-attention, FFN with Mish) -> GeM
pooling over valid positions -> Linear -> one logit per sequence, plus, when
``kmer_linear`` is set, a linear term over the sequence's k-mer frequencies,
and when ``kmer_words`` is set, a second one that training fits first as a
sparse regression and then keeps fixed (:func:`ntpipe.train.fit_words`).

Padding: sequences of a batch are padded with N to the longest one and their
true lengths passed as ``lengths``. Token ``j`` of the conv with kernel ``k``
is valid iff ``j <= length - k``; after pooling by ``p``, pooled token ``i`` is
valid iff ``(i + 1) * p`` conv tokens are valid. Invalid tokens are masked out
of the attention keys and out of GeM, so a sequence scores the same padded or
not. N is an ordinary token: it is never dropped, so positions never shift.
"""

import math
import os
from dataclasses import asdict, replace

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import ModelConfig, from_dict
from .encoding import N_TOKEN
from .files import atomic_path

__all__ = ["NucleicTransformer", "Ensemble", "from_config", "save_model", "load_model", "from_checkpoint", "min_length"]

FORMAT = "ntpipe-model"
VERSION = 1
LOOKUP_GROUP = 4  # kernel positions per lookup table at inference (V**4 = 625 rows for A, C, G, T, N)


class PositionalEncoding(nn.Module):
    """Fixed sinusoidal positions (Vaswani et al.), added to the embeddings.

    With ``min_wavelength`` > 0 the pairs of channels whose wavelength is
    shorter stay zero: the positions then place a word to tens of bases, not
    to one, and barely change when an indel moves it by a few.
    """

    def __init__(self, cfg):
        super().__init__()
        self.dropout = nn.Dropout(cfg.dropout)
        position = torch.arange(cfg.max_len, dtype=torch.float32).unsqueeze(1)  # (max_len, 1)
        div_term = torch.exp(torch.arange(0, cfg.d_model, 2).float() * (-math.log(10000.0) / cfg.d_model))
        pe = torch.zeros(cfg.max_len, cfg.d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)[:, : cfg.d_model // 2]
        short = (2 * math.pi / div_term < cfg.min_wavelength).repeat_interleave(2)[: cfg.d_model]
        pe[:, short] = 0.0
        self.register_buffer("pe", pe, persistent=False)  # rebuilt from the config, not stored

    def forward(self, x):
        return self.dropout(x + self.pe[: x.size(1)])  # (B, L, C)


class KmerAggregate(nn.Module):
    """One Conv1d (no padding) per k-mer size; outputs normalised, pooled, joined."""

    def __init__(self, cfg):
        super().__init__()
        self.kmers = list(cfg.kmers)
        self.pool = cfg.pool
        self.convs = nn.ModuleList(nn.Conv1d(cfg.d_model, cfg.d_model, k, padding=0) for k in self.kmers)
        self.norm = nn.LayerNorm(cfg.d_model)

    def forward(self, x, lengths):
        # x: (B, L, C) embeddings + positions; lengths: (B,) true lengths
        x = x.transpose(1, 2)  # (B, C, L)
        return self._join([conv(x).transpose(1, 2) for conv in self.convs], lengths)  # each (B, L-k+1, C)

    def from_tokens(self, tokens, embedding, pe, lengths):
        """The same as ``forward(embedding[tokens] + pe)`` without dropout, by table lookup.

        A convolution is linear and its input is one of V embeddings plus a
        fixed position code, so ``conv(E[tokens] + pe)[t] = sum_j T_j[tokens[t+j]]
        + conv(pe)[t]`` with ``T_j = E W_j^T``. Kernel positions are taken in
        groups of ``LOOKUP_GROUP``, one table row per combination of a group's
        bases, and ``conv(pe)[t] + bias`` is one more row: a k-mer token costs
        ceil(k / 4) + 1 row reads and adds (one ``embedding_bag``) instead of
        k*C*C multiply-adds. Used whenever no dropout falls on the embeddings
        (inference, and training without dropout: autograd flows through the
        tables to the embedding and the convolution); equal to the convolution
        up to float32 rounding.
        """
        B, L = tokens.size()
        V = embedding.size(0)
        tokens = tokens.int()  # int32 codes: V**LOOKUP_GROUP rows at most
        outputs = []
        for k, table in zip(self.kmers, self._lookup_tables(embedding, pe, L)):
            n = L - k + 1
            columns, row, codes = [], 0, {}
            for first, g in _groups(k):
                if g not in codes:  # the base-V number of the g bases starting at every position
                    codes[g] = sum(tokens[:, j : L - g + 1 + j] * V ** (g - 1 - j) for j in range(g))
                columns.append(codes[g][:, first : first + n] + row)
                row += V**g
            columns.append(torch.arange(row, row + n, dtype=torch.int32, device=tokens.device).expand(B, n))
            idx = torch.stack(columns, dim=-1).view(B * n, len(columns))  # (B * n, groups + 1)
            # on a GPU embedding_bag's own backward: deterministic there, where index_add_ adds with atomics
            rows = _LookupSum.apply(idx, table) if table.device.type == "cpu" else F.embedding_bag(idx, table, mode="sum")
            outputs.append(rows.view(B, n, -1))  # (B, n, C)
        return self._join(outputs, lengths)

    def _lookup_tables(self, embedding, pe, L):
        """Per k: the group tables, then conv(pe[:L]) + bias, stacked (rows, C).

        Kept between calls without autograd (inference), rebuilt when the
        weights, the length or the device change (keyed on each tensor's
        storage and in-place version counter); built afresh when autograd
        records, so no graph outlives its call, and under torch.compile.
        """
        # torch.compile cannot trace storage pointers: a compiled model builds its tables inside the graph
        cacheable = not torch.is_grad_enabled() and not torch.compiler.is_compiling()
        if cacheable:
            tensors = [embedding, *(p for conv in self.convs for p in (conv.weight, conv.bias))]
            key = (L, pe.device, pe.dtype, *((t.data_ptr(), t._version) for t in tensors))
            cached = getattr(self, "_lookup", None)  # (key, tables): one attribute, so threads never see half an update
            if cached is not None and cached[0] == key:
                return cached[1]
        V = embedding.size(0)
        built = []
        with torch.autocast(pe.device.type, enabled=False):  # float32 tables, even under bf16 autocast
            for k, conv in zip(self.kmers, self.convs):
                per_position = torch.einsum("vc,ock->kvo", embedding, conv.weight)  # (k, V, C): T_j
                tables = []
                for first, g in _groups(k):
                    digits = torch.cartesian_prod(*[torch.arange(V, device=pe.device)] * g).view(-1, g)  # (V**g, g)
                    tables.append(sum(per_position[first + j][digits[:, j]] for j in range(g)))  # (V**g, C)
                tables.append(conv(pe[:L].T.unsqueeze(0))[0].T)  # (L-k+1, C): positions and bias
                built.append(torch.cat(tables))
        if cacheable:
            self._lookup = (key, built)
        return built

    def _join(self, conv_outputs, lengths):
        outputs, valid = [], []
        for k, y in zip(self.kmers, conv_outputs):
            y = self.norm(y)  # (B, L-k+1, C)
            n_valid = (lengths - k + 1).clamp(min=0)  # conv tokens that see no padding
            if self.pool > 1:
                # max, not mean: a motif seen by one k-mer token must survive pooling
                # (B, T, C), a last stretch shorter than a pool dropped. With its indices, max_pool1d takes
                # a fast kernel on this layout, and its backward routes each gradient to its maximum by index
                # (amax's compares every input with the maximum: 3x slower to train; without indices 10x slower)
                y = F.max_pool1d(y.transpose(1, 2), self.pool, return_indices=True)[0].transpose(1, 2)
                n_valid = n_valid // self.pool  # pooled token i valid iff (i+1)*p <= n_valid
            T = y.size(1)
            outputs.append(y)
            valid.append(torch.arange(T, device=y.device).unsqueeze(0) < n_valid.unsqueeze(1))  # (B, T)
        return torch.cat(outputs, dim=1), torch.cat(valid, dim=1)  # (B, T, C), (B, T)


def _groups(k):
    """(first kernel position, size) of the lookup groups of a k-wide kernel."""
    return [(first, min(LOOKUP_GROUP, k - first)) for first in range(0, k, LOOKUP_GROUP)]


class _LookupSum(torch.autograd.Function):
    """``F.embedding_bag(idx, table, mode="sum")``, its table's gradient by one ``index_add_`` per column.

    The same gradient as embedding_bag's own, which sorts the indices first:
    3x faster on CPU, a fifth of a training step of the small model. Used on
    CPU only (on CUDA ``index_add_`` adds with atomics, not reproducibly).
    """

    @staticmethod
    def forward(ctx, idx, table):
        ctx.save_for_backward(idx)
        ctx.table_size = table.size()
        return F.embedding_bag(idx, table, mode="sum")

    @staticmethod
    def backward(ctx, grad):
        (idx,) = ctx.saved_tensors
        grad_table = grad.new_zeros(ctx.table_size)
        for column in idx.long().unbind(dim=1):
            grad_table.index_add_(0, column, grad)
        return None, grad_table


class SelfAttention(nn.Module):
    """Multi-head self-attention through scaled_dot_product_attention."""

    def __init__(self, cfg):
        super().__init__()
        if cfg.d_model % cfg.n_heads:
            raise ValueError(f"d_model {cfg.d_model} is not a multiple of n_heads {cfg.n_heads}")
        self.n_heads = cfg.n_heads
        self.dropout = cfg.dropout if cfg.attn_dropout is None else cfg.attn_dropout
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(self, x, key_mask=None, return_attention=False):
        # x: (B, T, C); key_mask: (B, T) True for keys that may be attended, or None (all)
        B, T, C = x.size()
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        attn_mask = None if key_mask is None else key_mask[:, None, None, :]  # (B, 1, 1, T)
        weights = None
        if return_attention:
            # explicit softmax, for interpretation only (no dropout on what is returned)
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))  # (B, nh, T, T)
            if attn_mask is not None:
                scores = scores.masked_fill(~attn_mask, float("-inf"))
            weights = scores.float().softmax(dim=-1).to(q.dtype)  # (B, nh, T, T)
            y = F.dropout(weights, self.dropout, self.training) @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.proj(y), weights


class FeedForward(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.fc1 = nn.Linear(cfg.d_model, cfg.d_ff)
        self.fc2 = nn.Linear(cfg.d_ff, cfg.d_model)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x):
        h = self.fc1(x)
        h = mish_by_exp(h) if (not self.training and h.dtype == torch.float32) else F.mish(h)
        return self.fc2(self.dropout(h))


def mish_by_exp(x):
    """Mish with one exp instead of exp, log1p and tanh: equal to ``F.mish`` to float32 rounding.

    ``tanh(softplus(x)) = n / (n + 2)`` with ``n = e^x (e^x + 2)``; above 20,
    ``mish(x) = x`` in float32, so the exponent is clamped there. About 2.5x
    faster than ``F.mish`` on CPU (benchmarks/); used at inference.
    """
    e = x.clamp(max=20.0).exp()
    n = e * (e + 2.0)
    return x * (n / (n + 2.0))


class EncoderLayer(nn.Module):
    """Post-norm Transformer encoder layer, as in the seed (Mish in the FFN)."""

    def __init__(self, cfg):
        super().__init__()
        self.attn = SelfAttention(cfg)
        self.norm1 = nn.LayerNorm(cfg.d_model)
        self.ffn = FeedForward(cfg)
        self.norm2 = nn.LayerNorm(cfg.d_model)
        self.dropout1 = nn.Dropout(cfg.dropout)
        self.dropout2 = nn.Dropout(cfg.dropout)

    def forward(self, x, key_mask=None, return_attention=False):
        a, weights = self.attn(x, key_mask, return_attention)
        x = self.norm1(x + self.dropout1(a))
        x = self.norm2(x + self.dropout2(self.ffn(x)))
        return x, weights


class GeM(nn.Module):
    """Generalised-mean pooling over the valid positions, learnable exponent p."""

    def __init__(self, cfg, eps=1e-6):
        super().__init__()
        self.p = nn.Parameter(torch.tensor([float(cfg.gem_p)]))
        self.eps = eps

    def forward(self, x, valid):
        # x: (B, T, C), valid: (B, T) -> (B, C); computed in float32 even under autocast
        w = valid.unsqueeze(-1).float()  # (B, T, 1)
        xp = x.float().clamp(min=self.eps).pow(self.p)
        mean = (xp * w).sum(dim=1) / w.sum(dim=1).clamp(min=1.0)
        return mean.clamp(min=self.eps).pow(1.0 / self.p)


class KmerFrequencies(nn.Module):
    """A linear term over the sequence's k-mer frequencies: the k-mer logistic regression inside the model.

    ``k`` is one size or a list of sizes (one weight per k-mer of each size).
    K-mers holding N or reaching past the true length are not counted. The
    frequencies are scaled by 4**k (1 on average), those of a size k below
    the longest K by a further 2**(K - k): a k-mer's count is about Poisson,
    so its spread grows as the square root of its mean, and so scaled every
    size's values spread alike and an L1 fit weighs the sizes alike
    (:func:`ntpipe.train.fit_words`). The term starts at zero.
    ``gated`` (``ModelConfig.word_gates``): the term is ``linear(f) + z *
    gate(f)``, z the standardised score of a first fit ``first(f)``, so that
    a k-mer can weigh only where others already speak for the mark.
    It is computed without them: the weights of the sequence's k-mers are
    gathered and averaged (no (B, 4**k) array; 10x faster for 8-mers).
    """

    def __init__(self, k, gated=False):
        super().__init__()
        self.ks = [k] if isinstance(k, int) else list(k)
        self.offsets = np.cumsum([0] + [4**k for k in self.ks]).tolist()  # each size's first weight column
        self.scales = [4**k * 2 ** (max(self.ks) - k) for k in self.ks]  # a count's value, times the k-mers counted
        self.linear = nn.Linear(self.offsets[-1], 1)
        if gated:  # + z * (gate . f + gate bias), z the standardised score of a first fit (first . f + its bias)
            self.first, self.gate = nn.Linear(self.offsets[-1], 1), nn.Linear(self.offsets[-1], 1)
            self.register_buffer("first_scale", torch.tensor([0.0, 1.0]))  # the first score's mean and sd
        self.gated = gated
        for linear in (self.linear, *((self.first, self.gate) if gated else ())):
            nn.init.zeros_(linear.weight)
            nn.init.zeros_(linear.bias)

    def forward(self, tokens, lengths):
        # tokens (B, L) long, lengths (B,) -> (B,) float32, also under autocast
        sizes = []  # per size: its weight columns, whether each k-mer is counted, their number, its scale
        for k, offset, scale in zip(self.ks, self.offsets, self.scales):
            codes, counted = self.codes(tokens, lengths, k)
            counted = counted.to(torch.float32)
            sizes.append((codes + offset, counted, counted.sum(dim=1).clamp(min=1.0), scale))
        with torch.autocast(tokens.device.type, enabled=False):

            def term(linear):  # the frequencies times a linear's weights: their weights gathered, averaged
                out = linear.bias
                for columns, counted, n, scale in sizes:
                    out = out + (linear.weight[0][columns] * counted).sum(dim=1) / n * scale
                return out

            out = term(self.linear)
            if self.gated:
                z = (term(self.first) - self.first_scale[0]) / self.first_scale[1]
                out = out + z * term(self.gate)
            return out

    @staticmethod
    def codes(tokens, lengths, k):
        """Each k-mer's code (B, n) long (its bases as a base-4 number), and whether it is counted (B, n) bool."""
        if tokens.size(1) < k:  # not one whole k-mer: pad with N (nothing counted, the bias alone)
            tokens = F.pad(tokens, (0, k - tokens.size(1)), value=N_TOKEN)
        n = tokens.size(1) - k + 1
        bases = tokens.long().clamp(max=N_TOKEN - 1)
        codes = bases[:, :n]
        for j in range(1, k):
            codes = codes * 4 + bases[:, j : j + n]
        n_before = F.pad((tokens == N_TOKEN).cumsum(dim=1), (1, 0))  # (B, L + 1): Ns before each position
        no_n = n_before[:, k:] == n_before[:, :n]
        return codes, no_n & (torch.arange(n, device=tokens.device) <= (lengths[:, None] - k))


def min_length(cfg):
    """Shortest sequence that yields one valid token: max(kmers) + pool - 1."""
    return max(cfg.kmers) + cfg.pool - 1


class NucleicTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = PositionalEncoding(cfg)
        self.kmer = KmerAggregate(cfg)
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.n_layers))
        self.gem = GeM(cfg)
        self.head = nn.Linear(cfg.d_model, 1)
        self.apply(self._init_weights)
        self.kmer_linear = KmerFrequencies(cfg.kmer_linear) if cfg.kmer_linear else None
        self.kmer_words = KmerFrequencies(cfg.kmer_words, cfg.word_gates) if cfg.kmer_words else None
        if cfg.zero_init_residual:  # each layer starts as its LayerNorms alone: LN(x + 0)
            for layer in self.layers:
                nn.init.zeros_(layer.attn.proj.weight)
                nn.init.zeros_(layer.ffn.fc2.weight)

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=1.0)  # same scale as the positional encoding
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        # Conv1d keeps PyTorch's default (Kaiming-uniform) init

    def forward(self, tokens, lengths=None, return_attention=False):
        """Logits (B,) for integer tokens (B, L) with true lengths (B,) or None (all L).

        With ``return_attention=True`` returns ``(logits, weights)``, weights of
        shape (B, n_layers, n_heads, T, T) over the T pooled k-mer tokens.
        """
        B, L = tokens.size()
        tokens = tokens.long()
        short = min_length(self.cfg) - L
        if short > 0:  # too short for one k-mer token: pad with N (masked below)
            tokens = F.pad(tokens, (0, short), value=self.cfg.vocab_size - 1)
        full_length = lengths is None  # every token valid: known without asking the device
        if lengths is None:
            lengths = torch.full((B,), L, device=tokens.device, dtype=torch.long)
        else:
            lengths = torch.as_tensor(lengths, device=tokens.device).long().clamp(max=L)
        if tokens.size(1) > self.cfg.max_len:
            raise ValueError(f"sequence length {tokens.size(1)} exceeds the model's max_len {self.cfg.max_len}")
        if self.training and self.pos.dropout.p > 0:  # dropout on the embeddings: convolve them
            x = self.pos(self.embed(tokens))  # (B, L, C)
            x, valid = self.kmer(x, lengths)  # (B, T, C), (B, T)
        else:  # the k-mer convolution by table lookup: the same result and gradients, 1.4x faster to train
            x, valid = self.kmer.from_tokens(tokens, self.embed.weight, self.pos.pe, lengths)
        valid[:, 0] |= ~valid.any(dim=1)  # a sequence shorter than one k-mer keeps its first token
        # no mask: flash kernels. bool() waits for the device, so it is asked only when lengths were given
        key_mask = None if (short <= 0 and (full_length or bool(valid.all()))) else valid
        weights = []
        for layer in self.layers:
            x, w = layer(x, key_mask, return_attention)
            weights.append(w)
        logits = self.head(self.gem(x, valid)).squeeze(-1)  # (B,)
        for term in (self.kmer_linear, self.kmer_words):
            if term is not None:
                logits = logits + term(tokens, lengths)
        if return_attention:
            return logits, torch.stack(weights, dim=1)  # (B, n_layers, nh, T, T)
        return logits

    def parts(self):
        """The separately trained models inside (one: this one)."""
        return [self]

    def member_logits(self, tokens, lengths=None):
        """Logits (B, 1): one column per member, as :meth:`Ensemble.member_logits`."""
        return self(tokens, lengths)[:, None]


class Ensemble(nn.Module):
    """``cfg.members`` Nucleic Transformers of one config, initialised apart; their logits averaged.

    Training gives each member its own loss (:meth:`member_logits`), so each
    learns as it would alone from the same batches; validation, early stopping
    and prediction see the average (a deep ensemble, Lakshminarayanan et al.
    2017). Costs ``members`` times a model's work.
    """

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.models = nn.ModuleList(NucleicTransformer(replace(cfg, members=1)) for _ in range(cfg.members))

    def parts(self):
        return list(self.models)

    def member_logits(self, tokens, lengths=None):
        return torch.stack([m(tokens, lengths) for m in self.models], dim=1)  # (B, members)

    def forward(self, tokens, lengths=None, return_attention=False):
        """Mean logit (B,) of the members."""
        if return_attention:
            raise ValueError("an ensemble's attention is its members': ask one of model.models")
        return self.member_logits(tokens, lengths).mean(dim=1)


def from_config(cfg):
    """A fresh model from a :class:`ModelConfig` or its dict: an :class:`Ensemble` when ``members`` > 1."""
    if isinstance(cfg, dict):
        cfg = from_dict(ModelConfig, cfg)
    return NucleicTransformer(cfg) if cfg.members == 1 else Ensemble(cfg)


def _plain(obj):
    """Numpy and torch scalars to Python types, so that weights_only loading accepts them."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, torch.Tensor) and obj.ndim == 0:
        return obj.item()
    return obj


def save_model(path, model, cfg, meta=None):
    """Write weights, config and ``meta`` (plain values) to ``path`` atomically.

    The file holds ``{"format": "ntpipe-model", "version": 1, "model_config":
    asdict(cfg), "state_dict": ..., "meta": meta}`` and loads with
    ``torch.load(path, weights_only=True)``.
    """
    model = getattr(model, "_orig_mod", model)  # unwrap torch.compile
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save(
            {"format": FORMAT, "version": VERSION, "model_config": asdict(cfg), "state_dict": state, "meta": _plain(meta or {})},
            tmp,
        )


def load_model(path, device="cpu"):
    """Rebuild a model saved by :func:`save_model`.

    Returns
    -------
    model (in eval mode, on ``device``), cfg (:class:`ModelConfig`), meta (dict)

    Raises
    ------
    FileNotFoundError when the file does not exist; ValueError naming the file
    when it is not an ntpipe model.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file not found: {path!r}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # not a torch file, or one that needs pickled code
        raise ValueError(f"{path!r} is not an ntpipe model (torch.load failed: {type(err).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not an ntpipe model (no format={FORMAT!r} entry)")
    missing = [k for k in ("version", "model_config", "state_dict") if k not in ckpt]
    if missing:
        raise ValueError(f"{path!r} is not a complete ntpipe model: missing {', '.join(missing)}")
    if ckpt["version"] != VERSION:
        raise ValueError(f"{path!r} has ntpipe model version {ckpt['version']!r}; this ntpipe reads version {VERSION}")
    cfg = from_dict(ModelConfig, ckpt["model_config"])
    model = from_config(cfg)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"{path!r}: weights do not match its model_config: {err}") from None
    return model.to(device).eval(), cfg, ckpt.get("meta", {})


def from_checkpoint(path, device="cpu"):
    """The model alone from a :func:`save_model` file (see :func:`load_model`)."""
    return load_model(path, device)[0]
