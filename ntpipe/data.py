"""Sequence tables, batches and training augmentations (no models, no devices).

Two datasets give the same batches ``(tokens (B, l) uint8, lengths (B,), targets (B,))``:

- :class:`SequenceDataset`: sequences held as one uint8 token array (n, L)
  padded with N (token 4) plus their true lengths (the tables of ``ntpipe
  train``); a batch is cut to its own longest sequence.
- :class:`WindowDataset`: examples as coordinates into memory-mapped encoded
  genomes (:mod:`ntpipe.trainset`); each batch's windows are cut on the fly.

:class:`EpochSampler` draws each epoch's examples: every one with the mark and
a fresh draw of those without it.
"""

import os

import numpy as np
import torch

from .encoding import N_TOKEN, encode

__all__ = [
    "read_table",
    "pad_sequences",
    "SequenceDataset",
    "WindowDataset",
    "EpochSampler",
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

    def digest_arrays(self):
        """Arrays that identify the data (for checkpoint fingerprints)."""
        return self.tokens, self.lengths, self.labels


class WindowDataset(torch.utils.data.Dataset):
    """Windows cut on the fly from memory-mapped encoded genomes.

    Parameters
    ----------
    genomes : list of uint8 arrays (one per cultivar, e.g. ``np.load(..., mmap_mode="r")``)
    examples : structured array with ``cultivar``, ``chrom``, ``bin``, ``target``
        (:data:`ntpipe.trainset.EXAMPLE_DTYPE`)
    offsets : int64 (cultivars, chroms): where each chromosome starts in its cultivar's genome
    size, stride : window geometry the genomes were encoded for

    ``labels`` are the soft targets; indexed by a list of indices it returns a
    whole batch of full-length windows, like :class:`SequenceDataset`.
    """

    def __init__(self, genomes, examples, offsets, size, stride):
        chrom_start = offsets[examples["cultivar"], examples["chrom"]]
        bad = np.flatnonzero(chrom_start < 0)
        if bad.size:
            raise ValueError(f"example {bad[0]} names a chromosome its cultivar's genome lacks")
        self.genomes, self.examples, self.size = genomes, examples, int(size)
        self.starts = chrom_start + examples["bin"].astype(np.int64) * int(stride)
        self.labels = np.ascontiguousarray(examples["target"], dtype=np.float32)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        idx = np.sort(np.atleast_1d(np.asarray(idx, dtype=np.int64)))
        tokens = np.empty((len(idx), self.size), dtype=np.uint8)
        cultivar = self.examples["cultivar"][idx]
        for c in np.unique(cultivar):
            rows = np.flatnonzero(cultivar == c)
            tokens[rows] = self.genomes[c][self.starts[idx[rows], None] + np.arange(self.size)]
        lengths = torch.full((len(idx),), self.size, dtype=torch.int64)
        return torch.from_numpy(tokens), lengths, torch.from_numpy(self.labels[idx])

    def tokens(self, idx):
        """Tokens (len(idx), size) of the examples ``idx``, in that order."""
        order = np.argsort(idx, kind="stable")
        out = np.empty((len(idx), self.size), dtype=np.uint8)
        out[order] = self[np.asarray(idx)[order]][0].numpy()
        return out

    def digest_arrays(self):
        return self.examples, self.starts, np.array([len(g) for g in self.genomes])


def weighted_sample(rng, cdf, size):
    """``size`` distinct indices, each drawn with probability proportional to
    its weight among those not drawn yet (numpy's ``choice(replace=False, p=...)``).

    ``cdf`` holds the cumulative weights, the last 1; ``size`` is at most the
    number of indices with weight. Draws with replacement and drops repeats,
    which is the same distribution in O(size log n) instead of numpy's O(n) per
    call; where most draws repeat (the sample holds most of the weight) the
    cumulative weights are rebuilt from the first ones without the drawn ones.
    """
    found, weight = np.empty(0, dtype=np.int64), None
    while len(found) < size:
        new = np.searchsorted(cdf, rng.random(size - len(found)), side="right")
        both = np.concatenate([found, new])
        first = np.sort(np.unique(both, return_index=True)[1])  # the drawn ones, then new ones in order of draw
        accepted, found = len(first) - len(found), both[first]
        if accepted < len(new) / 2:
            weight = np.diff(cdf, prepend=0.0) if weight is None else weight  # always the first weights
            weight[found] = 0
            cdf = np.cumsum(weight)
            cdf /= cdf[-1]
    return found


class EpochSampler(torch.utils.data.Sampler):
    """Each epoch: every example with the mark (target > 0) and a fresh draw of
    ``negative_ratio`` times as many without it, shuffled.

    ``weights`` (per example, optional) bias the draw of negatives (GC
    matching). ``epoch_size`` caps the examples per epoch: positives are then
    drawn too (without replacement), keeping the ratio. ``generator`` (a
    torch.Generator) makes every draw reproducible and resumable.
    """

    def __init__(self, targets, negative_ratio, generator, weights=None, epoch_size=None):
        self.pos, self.neg = self.split(targets)
        if not len(self.pos):
            raise ValueError("no training example carries the mark")
        self.generator, self.ratio = generator, float(negative_ratio)
        # the negatives' cumulative weights, once: an epoch's draw then costs O(n_neg log n), not O(n)
        self.cdf = None
        if weights is not None and len(self.neg):
            w = np.asarray(weights, dtype=np.float64)[self.neg]
            if not (np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0):
                raise ValueError(f"the negatives' sampling weights must be finite, at least 0 and not all 0; got"
                                 f" {np.count_nonzero(~np.isfinite(w))} not finite, {np.count_nonzero(w < 0)} below 0"
                                 f" and a sum of {w.sum():g} over {len(w)}")
            self.cdf = np.cumsum(w)
            self.cdf /= self.cdf[-1]
        n_pos = len(self.pos) if epoch_size is None else min(len(self.pos), max(1, round(epoch_size / (1 + self.ratio))))
        drawable = len(self.neg) if self.cdf is None else np.count_nonzero(np.diff(self.cdf, prepend=0.0))
        self.n_pos, self.n_neg = n_pos, min(drawable, round(n_pos * self.ratio))

    @staticmethod
    def split(targets):
        """Indices of the examples with the mark (target > 0) and of those without."""
        targets = np.asarray(targets)
        return np.flatnonzero(targets > 0), np.flatnonzero(targets <= 0)

    def __len__(self):
        return self.n_pos + self.n_neg

    @property
    def p(self):
        """Each negative's chance to be drawn first (None: all alike)."""
        return None if self.cdf is None else np.diff(self.cdf, prepend=0.0)

    def __iter__(self):
        rng = np.random.default_rng(int(torch.randint(2**62, (1,), generator=self.generator)))
        pos = self.pos if self.n_pos == len(self.pos) else rng.choice(self.pos, self.n_pos, replace=False)
        if self.cdf is None:
            neg = rng.choice(self.neg, self.n_neg, replace=False)
        else:
            neg = self.neg[weighted_sample(rng, self.cdf, self.n_neg)]
        chosen = np.concatenate([pos, neg])
        return iter(chosen[rng.permutation(len(chosen))].tolist())


def make_loader(dataset, batch_size, shuffle=False, generator=None, num_workers=0, pin_memory=False, sampler=None):
    """A DataLoader yielding whole batches from a :class:`SequenceDataset` or :class:`WindowDataset`.

    ``generator`` (a torch.Generator) seeds the shuffling; ``sampler`` (e.g.
    an :class:`EpochSampler`) replaces it.
    """
    if sampler is None:
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


def indel_batch(tokens, lengths, max_indel, generator):
    """Give each sequence one random insertion or deletion of 1..``max_indel`` bases.

    A variety's indel shifts every base past it, so a model that reads a locus
    by its exact offsets in the window reads every indel as a change of mark;
    trained on windows with an indel at a random place, it learns that a shift
    alone changes nothing. Half the rows (at random) get an insertion of random
    bases at a random position, pushing the sequence's end out; the others a
    deletion, whose gap at the sequence's end is filled with random bases. The
    length and padding stay. Returns a new tensor.
    """
    if max_indel <= 0:
        return tokens
    B, L = tokens.shape
    valid = lengths.long().unsqueeze(1)  # (B, 1)
    at = (torch.rand(B, 1, generator=generator) * valid.float()).long()  # (B, 1): where the indel starts
    k = torch.randint(1, max_indel + 1, (B, 1), generator=generator)
    insert = torch.rand(B, 1, generator=generator) < 0.5
    j = torch.arange(L).unsqueeze(0)  # (1, L)
    src = torch.where(j < at, j, torch.where(insert, j - k, j + k))  # (B, L): the base each position reads
    fresh = (insert & (j >= at) & (j < at + k)) | (src >= valid)  # inserted bases, and a deletion's refill
    bases = torch.randint(0, 4, (B, L), generator=generator, dtype=tokens.dtype)
    out = torch.where(fresh, bases, tokens.gather(1, src.clamp(0, L - 1)))
    return torch.where(j < valid, out, tokens)  # the padding stays
