"""Sequence tables, batches and training augmentations (no models, no devices).

Sequences live as one uint8 token array (n, L) padded with N (token 4) plus
their true lengths; a batch is cut to its own longest sequence.
"""

import os

import numpy as np
import torch

from .encoding import N_TOKEN, encode

__all__ = [
    "read_table",
    "pad_sequences",
    "SequenceDataset",
    "make_loader",
    "reverse_complement_batch",
    "mutate_batch",
]

_BASES = np.zeros(256, dtype=bool)
_BASES[np.frombuffer(b"ACGTNacgtn", dtype=np.uint8)] = True
_COMPLEMENT = torch.tensor([3, 2, 1, 0, N_TOKEN], dtype=torch.uint8)


def _is_header(seq, label):
    return label not in ("0", "1") and not _BASES[np.frombuffer(seq.encode("ascii", "replace"), np.uint8)].all()


def read_table(path):
    """Read a ``sequence<TAB>label`` table (the seeds' format; header optional).

    Parameters
    ----------
    path : str or path-like
        Text file, one sequence per line: bases A, C, G, T or N (either case),
        a tab, and the label 0 or 1. Blank lines are skipped.

    Returns
    -------
    tokens : numpy.ndarray uint8 (n, L), padded with N to the longest sequence
    lengths : numpy.ndarray int64 (n,)
    labels : numpy.ndarray int64 (n,)

    Raises
    ------
    ValueError naming the file, line and value for a wrong column count, a
    label other than 0/1, a base other than ACGTN, or a table with no rows.
    """
    path = os.fspath(path)
    with open(path, encoding="ascii", errors="replace") as handle:
        lines = handle.read().splitlines()
    seqs, labels = [], []
    first = True
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise ValueError(f"{path}: line {number}: expected 2 tab-separated columns (sequence, label), got {len(fields)}: {line[:60]!r}")
        seq, label = fields[0].strip(), fields[1].strip()
        if first:
            first = False
            if _is_header(seq, label):
                continue
        if label not in ("0", "1"):
            raise ValueError(f"{path}: line {number}: label {label!r} is not 0 or 1")
        raw = np.frombuffer(seq.encode("ascii", "replace"), dtype=np.uint8)
        bad = np.flatnonzero(~_BASES[raw])
        if bad.size:
            raise ValueError(f"{path}: line {number}: base {chr(raw[bad[0]])!r} at position {bad[0] + 1} is not A, C, G, T or N")
        if raw.size == 0:
            raise ValueError(f"{path}: line {number}: empty sequence")
        seqs.append(encode(raw))
        labels.append(int(label))
    if not seqs:
        raise ValueError(f"{path}: no sequences (empty file or header only)")
    tokens, lengths = pad_sequences(seqs)
    return tokens, lengths, np.asarray(labels, dtype=np.int64)


def pad_sequences(seqs, length=None):
    """Token arrays of any lengths -> (uint8 (n, L) padded with N, int64 lengths)."""
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    L = int(lengths.max(initial=0)) if length is None else int(length)
    tokens = np.full((len(seqs), L), N_TOKEN, dtype=np.uint8)
    for i, s in enumerate(seqs):
        tokens[i, : len(s)] = s[:L]
    return tokens, np.minimum(lengths, L)


class SequenceDataset(torch.utils.data.Dataset):
    """Tokens (n, L) uint8, lengths (n,) or None, labels (n,).

    Indexed by a list of indices (see :func:`make_loader`), it returns a whole
    batch ``(tokens (B, l), lengths (B,), labels (B,))`` as tensors, cut to the
    batch's longest sequence ``l``.
    """

    def __init__(self, tokens, lengths, labels):
        tokens = np.asarray(tokens, dtype=np.uint8)
        if tokens.ndim != 2:
            raise ValueError(f"tokens must be a 2-D (n, L) array, got shape {tokens.shape}")
        n, L = tokens.shape
        lengths = np.full(n, L, dtype=np.int64) if lengths is None else np.asarray(lengths, dtype=np.int64)
        labels = np.asarray(labels, dtype=np.float32)
        if lengths.shape != (n,) or labels.shape != (n,):
            raise ValueError(f"{n} sequences but {lengths.size} lengths and {labels.size} labels")
        self.tokens, self.lengths, self.labels = tokens, lengths, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        idx = np.sort(np.atleast_1d(np.asarray(idx, dtype=np.int64)))
        lengths = self.lengths[idx]
        tokens = self.tokens[idx, : int(lengths.max())]
        return torch.from_numpy(np.ascontiguousarray(tokens)), torch.from_numpy(lengths), torch.from_numpy(self.labels[idx])


def make_loader(dataset, batch_size, shuffle=False, generator=None, num_workers=0, pin_memory=False):
    """A DataLoader yielding whole batches from :class:`SequenceDataset`.

    ``generator`` (a torch.Generator) seeds the shuffling.
    """
    sampler = torch.utils.data.RandomSampler(dataset, generator=generator) if shuffle else torch.utils.data.SequentialSampler(dataset)
    batches = torch.utils.data.BatchSampler(sampler, batch_size, drop_last=False)
    return torch.utils.data.DataLoader(
        dataset, sampler=batches, batch_size=None, num_workers=num_workers, pin_memory=pin_memory
    )


def reverse_complement_batch(tokens, lengths, generator, fraction=0.5):
    """Reverse-complement a random ``fraction`` of the batch (valid part only).

    Parameters
    ----------
    tokens : uint8/long tensor (B, L), padded with N after each sequence
    lengths : tensor (B,) of true lengths
    generator : torch.Generator picking which rows flip

    Returns
    -------
    New tensor (B, L): chosen rows hold the reverse complement of their first
    ``length`` tokens followed by the same N padding; other rows unchanged.
    """
    B, L = tokens.shape
    flip = torch.zeros(B, dtype=torch.bool)
    flip[torch.randperm(B, generator=generator)[: int(round(B * fraction))]] = True
    pos = torch.arange(L).unsqueeze(0)  # (1, L)
    src = lengths.long().unsqueeze(1) - 1 - pos  # (B, L): position read for the RC
    inside = src >= 0
    rc = _COMPLEMENT.to(tokens.dtype)[tokens.gather(1, src.clamp(min=0)).long()]  # (B, L)
    rc = torch.where(inside, rc, tokens)  # keep the padding
    return torch.where(flip.unsqueeze(1), rc, tokens)


def mutate_batch(tokens, lengths, nmute, generator):
    """Set ``nmute`` random positions of each sequence to random bases (A/C/G/T).

    Positions are drawn uniformly within each sequence's valid part (a position
    may be drawn twice, and a base may be redrawn as itself, so slightly fewer
    than ``nmute`` positions change on average). Returns a new tensor.
    """
    if nmute <= 0:
        return tokens
    B, L = tokens.shape
    pos = (torch.rand(B, nmute, generator=generator) * lengths.float().unsqueeze(1)).long().clamp(max=L - 1)  # (B, nmute)
    bases = torch.randint(0, 4, (B, nmute), generator=generator, dtype=tokens.dtype)
    out = tokens.clone()
    out.scatter_(1, pos, bases)
    return out
