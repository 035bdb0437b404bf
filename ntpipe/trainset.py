"""Training examples as coordinates into encoded genomes, merged across cultivars.

Every cultivar genome is encoded once (:func:`encode_genome`): uint8 tokens of
each chromosome, padded with N as for a track (:func:`ntpipe.encoding.pad_for_bins`),
concatenated in ``.fai`` order into one ``.npy`` that training memory-maps. The
window of bin ``i`` of a chromosome is then ``genome[offset + i * stride:][:size]``
(:func:`genome_layout` gives each chromosome's offset).

:func:`build_labels` labels every bin of every cultivar (:mod:`ntpipe.labels`)
and merges, chromosome by chromosome, windows whose sequence is identical
across cultivars (or repeated within one) into one example: its target is the
fraction of those labelled copies that carry the mark (a soft label for binary
cross-entropy), so twenty near-identical cultivars weigh as evidence of one
locus, not as twenty copies to memorise. Ambiguous copies (see
:mod:`ntpipe.labels`) do not count. Windows mostly N are dropped. Every
example is kept (no sampling here): training draws each epoch's negatives
afresh (:class:`ntpipe.data.EpochSampler`).

An example is *differential* when the sequence of its own bin (the window's
central ``stride`` bases) is also the bin of an example of the other class
on the same chromosome: the same locus, marked in some cultivars and not in
others, whose windows differ elsewhere. These are the windows that say which
sequence differences switch a mark (a variant that breaks or completes a cue),
a few percent of the whole; the hold-out model is scored on them
(:func:`ntpipe.steps.train_mark`). A bin sequence shared by more examples than
there are cultivars is a repeat, not a locus, and is not flagged.

An example is stored in 16 bytes (:data:`EXAMPLE_DTYPE`); the windows' tokens
are never copied.
"""

import logging
from pathlib import Path

import numpy as np

from .chroms import chrom_key
from .encoding import N_TOKEN, bin_layout, called_bins, pad_for_bins
from .files import atomic_path
from .genome import chrom_sizes, encode_chrom, open_fasta
from .labels import AMBIGUOUS, bam_labels, peak_labels
from .liftover import Liftover
from .peaks import read_peaks

log = logging.getLogger(__name__)

__all__ = [
    "EXAMPLE_DTYPE", "genome_layout", "encode_genome", "load_genome", "build_labels", "load_labels", "split_by_chrom",
    "eval_subset", "gc_match_weights",
]

EXAMPLE_DTYPE = np.dtype([
    ("cultivar", "<u2"),  # index into the cultivar list: whose genome holds the window's sequence
    ("chrom", "<u2"),  # index into the chromosome names
    ("bin", "<u4"),  # bin on that cultivar's chromosome (window start = offset + bin * stride)
    ("target", "<f4"),  # fraction of the identical labelled copies that carry the mark
    ("copies", "<u2"),  # labelled copies merged into this example
    ("gc", "u1"),  # GC percent of the window's called bases
    ("differential", "u1"),  # 1: its bin's sequence is also an example of the other class (see build_labels)
])


def genome_layout(sizes, size, stride):
    """``{chrom: (offset, n_bins)}`` of a genome encoded by :func:`encode_genome`, and its total length."""
    layout, offset = {}, 0
    for chrom, length in sizes:
        count, left, right = bin_layout(length, size, stride)
        layout[chrom] = (offset, count)
        offset += left + length + right
    return layout, offset


def encode_genome(fasta_path, out, size, stride):
    """Encode a genome for training (see module doc) into ``out`` (.npy, written atomically)."""
    fasta = open_fasta(fasta_path)
    try:
        sizes = chrom_sizes(fasta)
        if not sizes:
            raise ValueError(f"{fasta_path}: no sequences")
        _, total = genome_layout(sizes, size, stride)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out, suffix=".npy") as tmp:
            tokens = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(total,))
            pos = 0
            for chrom, _ in sizes:
                padded = pad_for_bins(encode_chrom(fasta, chrom), size, stride)
                tokens[pos : pos + len(padded)] = padded
                pos += len(padded)
            tokens.flush()
            del tokens
    finally:
        fasta.close()
    return out


def load_genome(path, sizes, size, stride):
    """Memory-map an encoded genome, checking it matches ``sizes`` and the window geometry."""
    tokens = np.load(path, mmap_mode="r")
    _, total = genome_layout(sizes, size, stride)
    if tokens.dtype != np.uint8 or tokens.shape != (total,):
        raise ValueError(f"{path}: encoded genome of {tokens.shape} {tokens.dtype}, expected ({total},) uint8 for window {size}/{stride}: re-encode it")
    return tokens


def _cultivar_labels(row, sizes, cfg, reference=None, chrom_aliases=False):
    """``{chrom: int8 labels}`` of every bin, from the row's peaks or BAM; a
    ``vcf`` row's, on the reference's coordinates, lifted onto its consensus
    genome (``sizes``) by :class:`~ntpipe.liftover.Liftover`."""
    if not row.get("vcf"):
        return _labels(row, sizes, cfg, chrom_aliases)
    if reference is None:
        raise ValueError(f"cultivar {row['cultivar']!r} is given by a VCF ({row['vcf']}): its labels need the reference it was called against")
    with Liftover(reference, row["vcf"], row.get("sample") or None, dict(sizes), aliases=chrom_aliases) as lift:
        return _labels(row, sizes, cfg, chrom_aliases, lift)


def _labels(row, sizes, cfg, aliases, lift=None):
    if row.get("peaks"):
        peaks = read_peaks(row["peaks"], lift.reference_sizes if lift is not None else dict(sizes), aliases=aliases,
                           genome=row.get("genome") or None)
        if lift is not None:
            peaks = {c: lift.intervals(c, *iv) for c, iv in peaks.items()}
        return {c: peak_labels(peaks.get(c), n, cfg.stride, cfg.positive_fraction, cfg.negative_margin) for c, n in sizes}
    return bam_labels(row["bam"], row.get("control") or None, dict(sizes), cfg, aliases=aliases,
                      genome=row["genome"], lift=lift)


def _gc_percent(tokens, starts, size):
    """GC percent of the called bases of each window ``tokens[s:s+size]`` (one chromosome: int32 sums)."""
    gc = np.concatenate([[0], np.cumsum((tokens == 1) | (tokens == 2), dtype=np.int32)])
    called = np.concatenate([[0], np.cumsum(tokens != N_TOKEN, dtype=np.int32)])
    n_gc, n_called = gc[starts + size] - gc[starts], called[starts + size] - called[starts]
    return np.round(100 * n_gc / np.maximum(n_called, 1)).astype(np.uint8)


def _differential(bin_keys, positive, max_group):
    """1 for examples whose bin key is shared with an example of the other
    class, in a group of at most ``max_group`` examples (more: a repeat)."""
    from .cache import _unique_rows

    _, group = _unique_rows(bin_keys)
    n = np.bincount(group)
    n_pos = np.bincount(group, weights=positive)
    both = (n_pos > 0) & (n_pos < n) & (n <= max_group)
    return both[group].astype(np.uint8)


def build_labels(rows, encoded, cfg, out, reference=None, chrom_aliases=False):
    """Every labelled window of one mark over its cultivars, merged, saved to ``out`` (.npz).

    Parameters
    ----------
    rows : dicts with cultivar, genome, and peaks or bam (+ control), one per cultivar.
        A row with ``vcf`` (+ ``sample``) has its peaks or BAM on ``reference``'s
        coordinates and its ``genome`` is the consensus of that sample
        (:func:`ntpipe.variants.write_consensus`).
    encoded : ``{cultivar: path}`` of each genome encoded by :func:`encode_genome`.
    cfg : :class:`~ntpipe.labels.LabelConfig` (window geometry and labelling rule).
    out : output path, written atomically.
    reference : the FASTA the ``vcf`` rows' VCFs were called against.
    chrom_aliases : peaks, BAMs and the ``vcf`` rows' VCFs may name the
        chromosomes in another naming (:mod:`ntpipe.chroms`), and so may the
        cultivar genomes: windows are merged across genomes per chromosome
        whatever its naming, under the first genome's name.

    Returns a dict of counts (labelled copies, examples, positive examples).
    """
    from .cache import _unique_rows, window_keys  # (imports torch: not needed to encode a genome)

    rows = list(rows)
    cultivars = [r["cultivar"] for r in rows]
    sizes = {r["cultivar"]: chrom_sizes(r["genome"]) for r in rows}
    genomes = {c: load_genome(encoded[c], sizes[c], cfg.size, cfg.stride) for c in cultivars}
    layouts = {c: genome_layout(sizes[c], cfg.size, cfg.stride)[0] for c in cultivars}
    lengths = {c: dict(sizes[c]) for c in cultivars}
    own = _own_names(rows, sizes, chrom_key(chrom_aliases))  # {cultivar: {key: its name}}
    labels = {}
    for r in rows:
        labels[r["cultivar"]] = _cultivar_labels(r, sizes[r["cultivar"]], cfg, reference, chrom_aliases)
        log.info("%s: labelled %d chromosomes", r["cultivar"], len(labels[r["cultivar"]]))
    named = {}  # key -> the first cultivar's name for it: the chromosome's name in the labels
    for cv in cultivars:
        for key, name in own[cv].items():
            named.setdefault(key, name)
    chroms = list(named.values())
    parts, n_copies = [], 0
    for ci, (key, chrom) in enumerate(named.items()):
        keys, bin_keys, label, where = [], [], [], []
        for k, cv in enumerate(cultivars):
            name = own[cv].get(key)  # this chromosome in the cultivar's naming (with aliases, any naming)
            if name not in layouts[cv]:
                continue
            offset, _ = layouts[cv][name]
            length = lengths[cv][name]
            _, left, right = bin_layout(length, cfg.size, cfg.stride)
            padded = genomes[cv][offset : offset + left + length + right]  # this chromosome's windows, no copy
            lab = labels[cv][name].copy()
            lab[~called_bins(padded[left : left + length], cfg.size, cfg.stride, cfg.max_n_fraction)] = AMBIGUOUS
            bins = np.flatnonzero(lab != AMBIGUOUS)
            starts = bins * cfg.stride
            keys.append(window_keys(padded, starts, cfg.size))
            bin_keys.append(window_keys(padded, starts + left, cfg.stride))  # the bin's own bases
            label.append(lab[bins])
            where.append((np.full(len(bins), k, np.uint16), bins, _gc_percent(padded, starts, cfg.size)))
        if not keys:
            continue
        keys, label = np.concatenate(keys), np.concatenate(label).astype(np.float64)
        cv_idx, bins, gc = (np.concatenate(x) for x in zip(*where))
        first, inverse = _unique_rows(keys)
        copies = np.bincount(inverse, minlength=len(first))
        ex = np.zeros(len(first), EXAMPLE_DTYPE)
        ex["cultivar"], ex["chrom"], ex["bin"], ex["gc"] = cv_idx[first], ci, bins[first], gc[first]
        ex["target"] = np.bincount(inverse, weights=label, minlength=len(first)) / copies
        ex["copies"] = np.minimum(copies, np.iinfo(np.uint16).max)
        ex["differential"] = _differential(np.concatenate(bin_keys)[first], ex["target"] > 0, len(cultivars))
        parts.append(ex)
        n_copies += len(keys)
        log.info("%s: %d labelled windows -> %d distinct (%d with the mark, %d differential)", chrom, len(keys), len(ex),
                 int((ex["target"] > 0).sum()), int(ex["differential"].sum()))
    examples = np.concatenate(parts) if parts else np.zeros(0, EXAMPLE_DTYPE)
    if not (examples["target"] > 0).any():
        raise ValueError(f"no positive windows for {out}: check the peaks and the labels settings")
    offsets = np.array([[layouts[cv].get(own[cv].get(key), (-1, 0))[0] for key in named] for cv in cultivars],
                       dtype=np.int64)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, examples=examples, cultivars=np.array(cultivars), chroms=np.array(chroms), offsets=offsets,
                 genomes=np.array([str(encoded[c]) for c in cultivars]), size=cfg.size, stride=cfg.stride)
    summary = {"copies": n_copies, "examples": len(examples), "positive": int((examples["target"] > 0).sum()),
               "differential": int(examples["differential"].sum())}
    log.info("%d labelled windows merged into %d examples (%d with the mark, %d differential)", n_copies,
             summary["examples"], summary["positive"], summary["differential"])
    return summary


def _own_names(rows, sizes, key):
    """``{cultivar: {key: chromosome name}}`` in each genome's order; ValueError for a genome with two
    chromosomes of one key (``Chr1`` and ``chr01`` under ``chrom_aliases``)."""
    own = {}
    for r in rows:
        names = {}
        for name, _ in sizes[r["cultivar"]]:
            other = names.setdefault(key(name), name)
            if other != name:
                raise ValueError(f"{r['genome']}: chromosomes {other!r} and {name!r} are one chromosome under"
                                 " chrom_aliases; expected one name per chromosome")
        own[r["cultivar"]] = names
    return own


def load_labels(path):
    """A labels .npz as a dict: ``examples``, ``cultivars``, ``chroms``, ``offsets`` (cultivar x chrom),
    ``genomes`` (memory-mapped encoded genomes, by cultivar), ``size``, ``stride``."""
    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    data["size"], data["stride"] = int(data["size"]), int(data["stride"])
    data["genomes"] = [np.load(p, mmap_mode="r") for p in data["genomes"]]
    return data


def split_by_chrom(data, valid_chroms, test_chroms, aliases=False):
    """Examples of the train / valid / test chromosomes: ``{name: examples}``.

    With ``aliases`` a chromosome is named in any naming (``chr11`` holds out
    the ``Chr11`` of every cultivar genome, :func:`ntpipe.chroms.canonical`).
    Raises ValueError when the lists overlap or a split lacks either class
    (positive: target >= 0.5).
    """
    key = chrom_key(aliases)
    valid_chroms, test_chroms = set(valid_chroms), set(test_chroms)
    both = {c for c in valid_chroms if key(c) in {key(t) for t in test_chroms}}
    if both:
        raise ValueError(f"chromosomes {sorted(both)} are both validation and test chromosomes")
    ex = data["examples"]

    def held_out(chroms):  # the examples on those chromosomes, through the indices of their names
        keys = {key(c) for c in chroms}
        return np.isin(ex["chrom"], [i for i, c in enumerate(data["chroms"]) if key(c) in keys])

    masks = {"valid": held_out(valid_chroms), "test": held_out(test_chroms)}
    masks["train"] = ~(masks["valid"] | masks["test"])
    present = sorted(set(data["chroms"][np.unique(ex["chrom"])].tolist()))
    for split, mask in masks.items():
        positive = ex["target"][mask] >= 0.5
        if not positive.any() or positive.all():
            raise ValueError(
                f"the {split} split has no windows of both classes; split chromosomes valid={sorted(valid_chroms)}, "
                f"test={sorted(test_chroms)}; chromosomes with labelled windows: {present}"
            )
    return {split: ex[mask] for split, mask in masks.items()}


def eval_subset(examples, n, seed=0):
    """A fixed, seeded draw of at most ``n`` examples for validation or test:
    every example with the mark (target >= 0.5, as the metrics count it) if they
    fill at most half, the others for the rest."""
    if n is None or len(examples) <= n:
        return examples
    rng = np.random.default_rng(seed)
    marked = examples["target"] >= 0.5
    pos, neg = np.flatnonzero(marked), np.flatnonzero(~marked)
    pos = pos if len(pos) <= n // 2 else rng.choice(pos, n // 2, replace=False)
    neg = rng.choice(neg, min(len(neg), n - len(pos)), replace=False)
    return examples[np.sort(np.concatenate([pos, neg]))]


def gc_match_weights(examples, n_bins=10):
    """Sampling weight per example that makes negatives (target 0) match the GC
    distribution of the examples with the mark (deciles); never exactly 0."""
    gc = examples["gc"] / 100.0
    edges = np.linspace(0, 1, n_bins + 1)
    which = np.clip(np.digitize(gc, edges) - 1, 0, n_bins - 1)
    pos = examples["target"] > 0
    pos_hist = np.bincount(which[pos], minlength=n_bins) / max(pos.sum(), 1)
    neg_hist = np.bincount(which[~pos], minlength=n_bins) / max((~pos).sum(), 1)
    return pos_hist[which] / np.maximum(neg_hist[which], 1e-12) + 1e-6
