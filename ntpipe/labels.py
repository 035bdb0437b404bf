"""Labelled training windows from peaks or from ChIP-seq alignments.

Every cultivar genome is tiled like a track (:func:`ntpipe.encoding.bin_layout`):
one window of ``size`` bp centred on each ``stride`` bp bin.

Peaks: a window is positive when peaks cover at least ``positive_fraction`` of
its central bin, negative when no peak comes within ``negative_margin`` bp of
its central bin, and left out (ambiguous) in between. A track's value is the
mark at its bin, so the windows beside a peak, whose bins are unmarked, are
negatives by default (margin 0): left out, they taught the models to smear a
mark over the window's reach. ``negative_margin = (size - stride) / 2`` (for
an even ``size - stride``) is the stricter rule "no peak touches the window".

BAM or CRAM (documented enrichment rule), the same geometry: reads are
counted by their 5' end over ``read_span`` bp centred on each bin (the bin and
about a fragment's length on each side, so the 5' ends of both strands of a
bin's fragments fall in it); which reads count (mapping quality at least
``min_mapq``, a fragment once, one read per 5' end and strand) is
:mod:`ntpipe.alignments`'s rule. The enrichment is
``log2((chip + 1) / (expected + 1))`` in reads, ``expected`` the ChIP's
genome-wide mean for the span or, with a control, the most of that mean, the
control's count over the span and its count over ``control_span`` bp scaled
to the span, both scaled to the ChIP's library size (MACS2's local lambda: a
thin control, or a chromosome it lacks, never expects less than the ChIP's
own background). A window is
positive when that reaches ``min_log2_enrichment`` with at least ``min_reads``
ChIP reads, negative when no enriched bin (enrichment above 0) comes within
``negative_margin`` bp of its central bin, ambiguous in between.

Peaks files are read by :mod:`ntpipe.peaks`. Chromosome names: a peaks file or BAM names its genome's chromosomes exactly,
or, with ``aliases`` (the config's ``chrom_aliases``), in another of the usual
namings (``chr01``, ``1`` for ``Chr1``: :mod:`ntpipe.chroms`), each rename logged.

Training examples are built from these labels by :mod:`ntpipe.trainset`.
"""

import logging
from dataclasses import dataclass

import numpy as np

from .alignments import genome_contigs, open_alignments, read_starts
from .chroms import listed, log_renamed
from .encoding import n_bins, window_bounds
from .intervals import covered_before, merge_intervals

log = logging.getLogger(__name__)

__all__ = [
    "LabelConfig",
    "peak_labels",
    "bam_labels",
]

POSITIVE, NEGATIVE, AMBIGUOUS = 1, 0, -1


@dataclass
class LabelConfig:
    size: int = 1000
    stride: int = 100
    max_n_fraction: float = 0.5
    positive_fraction: float = 0.5
    negative_margin: int = 0
    min_log2_enrichment: float = 1.0
    min_reads: int = 5
    read_span: int = 500
    control_span: int = 10000
    min_mapq: int = 10


def peak_labels(intervals, length, stride, positive_fraction, negative_margin=0):
    """Label every bin of one chromosome from its merged peaks (see module doc).

    Returns int8 array (n_bins,) of 1 (positive), 0 (negative), -1 (ambiguous).
    """
    starts, ends = intervals if intervals is not None else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    bin_start, bin_end = window_bounds(length, stride, stride)
    bin_cov = covered_before(bin_end, starts, ends) - covered_before(bin_start, starts, ends)
    labels = np.full(len(bin_start), AMBIGUOUS, np.int8)
    labels[bin_cov >= positive_fraction * (bin_end - bin_start)] = POSITIVE
    labels[_clear(starts, ends, bin_start, bin_end, length, negative_margin)] = NEGATIVE
    return labels


def _clear(starts, ends, bin_start, bin_end, length, margin):
    """Bins that no merged interval ``(starts, ends)`` comes within ``margin`` bp of."""
    near_start, near_end = np.maximum(bin_start - margin, 0), np.minimum(bin_end + margin, length)
    return covered_before(near_end, starts, ends) == covered_before(near_start, starts, ends)


def _span_counts(read_pos, length, stride, span):
    """Reads (by 5' position) within ``span`` bp centred on each ``stride`` bp bin."""
    cum = np.concatenate([[0], np.cumsum(np.bincount(read_pos, minlength=length)[:length])])
    lo, hi = window_bounds(length, span, stride)
    return cum[hi] - cum[lo]


def _span_widths(length, stride, span):
    """Bp of each bin's ``span`` that lie on the chromosome."""
    lo, hi = window_bounds(length, span, stride)
    return hi - lo


def _expected(control_pos, scale, chip_rate, length, cfg):
    """ChIP reads expected over each bin's read span: the ChIP's genome-wide
    mean (``chip_rate`` reads per bp), or with a control (``scale``: ChIP over
    control reads) the most of that mean, the scaled control over the read
    span and over ``control_span`` (MACS2's local lambda)."""
    width = _span_widths(length, cfg.stride, cfg.read_span)
    mean = chip_rate * width
    if control_pos is None:
        return mean
    local = _span_counts(control_pos, length, cfg.stride, cfg.read_span) * scale
    wide = _span_counts(control_pos, length, cfg.stride, cfg.control_span) * scale
    return np.maximum.reduce([mean, local, wide * width / _span_widths(length, cfg.stride, cfg.control_span)])


def bam_labels(chip, control, sizes, cfg, aliases=False, genome=None, lift=None):
    """Label every bin from ChIP (and optional control) alignments.

    Parameters
    ----------
    chip, control : paths to sorted, indexed BAMs or CRAMs (control may be None).
    sizes : ``{chrom: length}`` of the cultivar genome, in .fai order.
    cfg : :class:`LabelConfig`.
    aliases : match each file's reference names to the genome's across namings
        (see module doc); False: they must be the genome's.
    genome : the genome's FASTA, which decodes a CRAM aligned to it.
    lift : optional :class:`ntpipe.liftover.Liftover`: the alignments are on
        its reference (which decodes a CRAM and gives the references'
        lengths) and their positions are lifted onto the genome (a cultivar
        labelled on its consensus).

    Returns ``{chrom: int8 labels}`` (see module doc for the rule), keyed by
    the genome's names. Contigs the genome lacks are skipped with a warning
    (:func:`ntpipe.alignments.genome_contigs`); a chromosome where no ChIP
    read counts has no evidence either way: all its bins are ambiguous (with
    a warning where reads were to be expected).
    """
    if cfg.read_span < cfg.stride:
        raise ValueError(f"labels.read_span {cfg.read_span} is shorter than the bin ({cfg.stride} bp)")
    if control and cfg.control_span < cfg.read_span:
        raise ValueError(f"labels.control_span {cfg.control_span} is shorter than labels.read_span ({cfg.read_span} bp)")
    fasta, on = (lift.reference, lift.reference_sizes) if lift is not None else (genome, sizes)
    starts = [_starts(path, fasta, on, aliases, sizes, cfg.min_mapq) for path in ([chip, control] if control else [chip])]
    totals = [sum(len(v) for v in s.values()) for s in starts]
    for path, total in zip([chip, control], totals):
        if total == 0:
            raise ValueError(f"{path}: no reads count on the genome's chromosomes (mapped, primary, not QC-fail or"
                             f" duplicate, MAPQ >= {cfg.min_mapq} (labels.min_mapq); of a pair, read 1 of a proper pair)")
    if lift is not None:  # chromosome by chromosome: one chromosome's map at a time
        for c in sizes:
            for s in starts:
                s[c] = lift.positions(c, s[c])
    if control:
        _warn_empty(control, starts)
    silent = [c for c in sizes if len(starts[0][c]) == 0]
    chip_rate = totals[0] / sum(n for c, n in sizes.items() if c not in silent)  # reads per bp where it has any
    if any(chip_rate * sizes[c] >= 10 for c in silent):  # not a contig too short to expect a read
        log.warning("%s: no read counts on %s (of the genome's %d chromosomes): left out of training, not taught as"
                    " unmarked (a BAM filtered to some chromosomes, or one whose reads there are all multi-mappers"
                    " under labels.min_mapq %d?)", chip, listed(silent), len(sizes), cfg.min_mapq)
    out = {}
    for chrom, length in sizes.items():
        if chrom in silent:  # no evidence either way
            out[chrom] = np.full(n_bins(length, cfg.stride), AMBIGUOUS, np.int8)
            continue
        chip_n = _span_counts(starts[0][chrom], length, cfg.stride, cfg.read_span)
        control_pos, scale = (starts[1][chrom], totals[0] / totals[1]) if control else (None, None)
        expected = _expected(control_pos, scale, chip_rate, length, cfg)
        enrichment = np.log2((chip_n + 1) / (expected + 1))
        labels = np.full(len(chip_n), AMBIGUOUS, np.int8)
        labels[(enrichment >= cfg.min_log2_enrichment) & (chip_n >= cfg.min_reads)] = POSITIVE
        bin_start, bin_end = window_bounds(length, cfg.stride, cfg.stride)
        enriched = merge_intervals(bin_start[enrichment > 0], bin_end[enrichment > 0])
        labels[_clear(*enriched, bin_start, bin_end, length, cfg.negative_margin)] = NEGATIVE
        out[chrom] = labels
    return out


def _warn_empty(control, starts):
    """Warn of the chromosomes where the ChIP has reads and the control none."""
    empty = [c for c, pos in starts[1].items() if len(pos) == 0 and len(starts[0][c])]
    if empty:
        log.warning("%s: the control has no reads that count on %s, where the ChIP has: the ChIP's genome-wide"
                    " mean is the expected count there (a control filtered to some chromosomes, or aligned to"
                    " another genome?)", control, listed(empty))


def _starts(path, fasta, on, aliases, sizes, min_mapq):
    """``{chrom: 5' positions}`` of the reads that count in one file, on the
    coordinates of ``on`` (``{chrom: length}`` of ``fasta``), for every chromosome of ``sizes``."""
    with open_alignments(path, fasta) as aln:
        contigs, notes = genome_contigs(path, aln, on, fasta, aliases)
        starts = {c: read_starts(aln, contigs[c], min_mapq) if c in contigs else np.zeros(0, np.int64) for c in sizes}
    for note in notes:
        log.warning(note)
    log_renamed(log, path, {ref: c for c, ref in contigs.items() if ref != c})
    return starts
