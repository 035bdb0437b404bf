"""A straightforward implementation of the seed's model and data path, the
baseline ``benchmarks/run.py`` measures ntpipe's engine against.

Written the way the seed notebook (Nucleic-Transformer) does it: sequence-first
tensors through ``nn.MultiheadAttention`` asking for the attention weights,
float32, windows cut by slicing the chromosome string, each window encoded
base by base through a Python dict, and batches built by a plain Python loop
(no DataLoader). The architecture follows ntpipe's config (so both run the
same weights, mapped by :func:`load_ntpipe_weights`): embedding, sinusoidal
positions, one Conv1d per k-mer + LayerNorm (+ max pooling when the config
pools), post-norm encoder layers with a Mish feed-forward, GeM, linear, plus
the linear term over k-mer frequencies when the config has one (``kmer_linear``).
Only full-length windows (no padding masks), inference only.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

BASE = {"A": 0, "C": 1, "G": 2, "T": 3, "N": 4}


def encode_window(seq):
    return [BASE.get(c, 4) for c in seq.upper()]


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=4096):
        super().__init__()
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)[:, : d_model // 2]
        self.register_buffer("pe", pe.unsqueeze(1))  # (L, 1, C)

    def forward(self, x):  # (L, B, C)
        return x + self.pe[: x.size(0)]


class KmerAggregate(nn.Module):
    def __init__(self, kmers, d_model, pool):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv1d(d_model, d_model, k, padding=0) for k in kmers])
        self.norm = nn.LayerNorm(d_model)
        self.pool = pool

    def forward(self, x):  # (B, C, L) -> (T, B, C)
        outputs = []
        for conv in self.convs:
            y = self.norm(conv(x).permute(2, 0, 1))  # (L', B, C)
            if self.pool > 1:
                y = F.max_pool1d(y.permute(1, 2, 0), self.pool).permute(2, 0, 1)
            outputs.append(y)
        return torch.cat(outputs, dim=0)


class Mish(nn.Module):
    def forward(self, x):
        return x * torch.tanh(F.softplus(x))


class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model, nhead, dim_feedforward):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.activation = Mish()

    def forward(self, src):
        src2, attention_weights = self.self_attn(src, src, src)  # weights returned, as in the seed
        src = self.norm1(src + src2)
        src2 = self.linear2(self.activation(self.linear1(src)))
        src = self.norm2(src + src2)
        return src, attention_weights


class KmerFrequencies(nn.Module):
    """Linear term over each window's k-mer frequencies (k-mers holding N not counted), scaled by 4**k."""

    def __init__(self, k):
        super().__init__()
        self.k = k
        self.linear = nn.Linear(4**k, 1)

    def forward(self, src):  # (B, L) long -> (B,)
        words = src.unfold(1, self.k, 1)  # (B, L - k + 1, k)
        code = torch.zeros(words.shape[:2], dtype=torch.long)
        for j in range(self.k):
            code = code * 4 + words[..., j].clamp(max=3)
        counted = (words < 4).all(dim=-1).float()
        counts = torch.zeros(src.size(0), 4**self.k).scatter_add_(1, code, counted)
        return self.linear(counts / counts.sum(1, keepdim=True).clamp(min=1) * 4**self.k).squeeze(-1)


class NucleicTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_encoder = PositionalEncoding(cfg.d_model, cfg.max_len)
        self.kmer_aggregate = KmerAggregate(cfg.kmers, cfg.d_model, cfg.pool)
        self.layers = nn.ModuleList([TransformerEncoderLayer(cfg.d_model, cfg.n_heads, cfg.d_ff) for _ in range(cfg.n_layers)])
        self.gem_p = nn.Parameter(torch.ones(1) * cfg.gem_p)
        self.decoder = nn.Linear(cfg.d_model, 1)
        self.kmer_linear = KmerFrequencies(cfg.kmer_linear) if cfg.kmer_linear else None

    def forward(self, tokens):  # (B, L) long
        src = self.embedding(tokens).permute(1, 0, 2)  # (L, B, C)
        src = self.pos_encoder(src)
        src = self.kmer_aggregate(src.permute(1, 2, 0))  # (T, B, C)
        attention_weights = []
        for layer in self.layers:
            src, w = layer(src)
            attention_weights.append(w)
        x = src.clamp(min=1e-6).pow(self.gem_p).mean(0).clamp(min=1e-6).pow(1.0 / self.gem_p)  # GeM over T
        logits = self.decoder(x).squeeze(-1)
        if self.kmer_linear is not None:
            logits = logits + self.kmer_linear(tokens)
        return logits, attention_weights


def load_ntpipe_weights(ref, ntpipe_model):
    """Copy an ntpipe NucleicTransformer's weights into ``ref`` (names mapped)."""
    sd = ntpipe_model.state_dict()
    out = {"embedding.weight": sd["embed.weight"], "gem_p": sd["gem.p"], "decoder.weight": sd["head.weight"],
           "decoder.bias": sd["head.bias"], "kmer_aggregate.norm.weight": sd["kmer.norm.weight"],
           "kmer_aggregate.norm.bias": sd["kmer.norm.bias"], "pos_encoder.pe": ref.pos_encoder.pe}
    for i in range(len(ref.kmer_aggregate.convs)):
        for p in ("weight", "bias"):
            out[f"kmer_aggregate.convs.{i}.{p}"] = sd[f"kmer.convs.{i}.{p}"]
    for i in range(len(ref.layers)):
        names = {"self_attn.in_proj_weight": "attn.qkv.weight", "self_attn.in_proj_bias": "attn.qkv.bias",
                 "self_attn.out_proj.weight": "attn.proj.weight", "self_attn.out_proj.bias": "attn.proj.bias",
                 "linear1.weight": "ffn.fc1.weight", "linear1.bias": "ffn.fc1.bias",
                 "linear2.weight": "ffn.fc2.weight", "linear2.bias": "ffn.fc2.bias",
                 "norm1.weight": "norm1.weight", "norm1.bias": "norm1.bias",
                 "norm2.weight": "norm2.weight", "norm2.bias": "norm2.bias"}
        for r, n in names.items():
            out[f"layers.{i}.{r}"] = sd[f"layers.{i}.{n}"]
    if ref.kmer_linear is not None:
        out["kmer_linear.linear.weight"] = sd["kmer_linear.linear.weight"]
        out["kmer_linear.linear.bias"] = sd["kmer_linear.linear.bias"]
    ref.load_state_dict(out)
    return ref.eval()


def predict(model, chrom, starts, size, batch_size=64):
    """Probabilities for ``chrom[s:s+size]`` (a str) for each start: slice,
    encode base by base, batch in a Python loop, float32."""
    probs = []
    with torch.no_grad():
        for lo in range(0, len(starts), batch_size):
            batch = [encode_window(chrom[s : s + size]) for s in starts[lo : lo + batch_size]]
            logits, _ = model(torch.tensor(batch, dtype=torch.long))
            probs.extend(torch.sigmoid(logits).tolist())
    return probs
