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

BAM (documented enrichment rule), the same geometry: reads are counted by
their 5' end over ``read_span`` bp centred on each bin (the bin and about a
fragment's length on each side, so the 5' ends of both strands of a bin's
fragments fall in it). The enrichment is ``log2((chip + 1) / (expected + 1))``
in reads, ``expected`` the control's count scaled to the ChIP's library size
or, without a control, the ChIP's genome-wide mean for a span. A window is
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
from pathlib import Path

import numpy as np

from .chroms import Matcher
from .encoding import window_bounds
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


def _read_starts(bam, chrom):
    """5' positions of the mapped, primary, non-duplicate reads on ``chrom``."""
    pos = [
        r.reference_end - 1 if r.is_reverse else r.reference_start
        for r in bam.fetch(chrom)
        if not (r.is_unmapped or r.is_secondary or r.is_supplementary or r.is_duplicate)
    ]
    return np.asarray(pos, dtype=np.int64)


def _span_counts(read_pos, length, stride, span):
    """Reads (by 5' position) within ``span`` bp centred on each ``stride`` bp bin."""
    cum = np.concatenate([[0], np.cumsum(np.bincount(read_pos, minlength=length)[:length])])
    lo, hi = window_bounds(length, span, stride)
    return cum[hi] - cum[lo]


def bam_labels(chip, control, sizes, cfg, aliases=False, lift=None):
    """Label every bin from ChIP (and optional control) alignments.

    Parameters
    ----------
    chip, control : paths to sorted, indexed BAMs (control may be None).
    sizes : ``{chrom: length}`` of the cultivar genome, in .fai order.
    cfg : :class:`LabelConfig`.
    aliases : match each BAM's reference names to the genome's across namings
        (see module doc); False: they must be the genome's.
    lift : optional ``lift(chrom, positions)``: the genome's positions of the
        BAMs' (alignments to the reference, labelled on a cultivar's consensus:
        :meth:`ntpipe.liftover.Liftover.positions`).

    Returns ``{chrom: int8 labels}`` (see module doc for the rule), keyed by
    the genome's names.
    """
    import pysam

    if cfg.read_span < cfg.stride:
        raise ValueError(f"labels.read_span {cfg.read_span} is shorter than the bin ({cfg.stride} bp)")

    def open_bam(path):
        if not Path(path).is_file():
            raise FileNotFoundError(f"BAM not found: {path}")
        bam = pysam.AlignmentFile(str(path), "rb")
        if not bam.has_index():
            raise ValueError(f"{path}: BAM has no index (run samtools index)")
        names = Matcher(sizes, aliases)
        try:
            to_genome = {ref: names(ref) for ref in bam.references}
        except ValueError as err:
            bam.close()
            raise ValueError(f"{path}: {err} (chrom_aliases)") from None
        missing = [ref for ref, chrom in to_genome.items() if chrom is None]
        if missing:
            bam.close()
            raise ValueError(f"{path}: BAM references {missing[:5]} are not in the genome")
        names.log_renamed(path, log)
        return bam, {chrom: ref for ref, chrom in to_genome.items()}

    bams = [open_bam(chip)] + ([open_bam(control)] if control else [])
    starts = [{c: _read_starts(b, refs[c]) if c in refs else np.zeros(0, np.int64) for c in sizes} for b, refs in bams]
    totals = [sum(len(v) for v in s.values()) for s in starts]
    for b, _ in bams:
        b.close()
    if lift is not None:  # chromosome by chromosome: one chromosome's map at a time
        for c in sizes:
            for s in starts:
                s[c] = lift(c, s[c])
    if totals[0] == 0:
        raise ValueError(f"{chip}: no mapped reads")
    genome_length = sum(sizes.values())
    out = {}
    for chrom, length in sizes.items():
        chip_n = _span_counts(starts[0][chrom], length, cfg.stride, cfg.read_span)
        if control:
            expected = _span_counts(starts[1][chrom], length, cfg.stride, cfg.read_span) * totals[0] / max(totals[1], 1)
        else:
            expected = np.full(len(chip_n), totals[0] * cfg.read_span / genome_length)
        enrichment = np.log2((chip_n + 1) / (expected + 1))
        labels = np.full(len(chip_n), AMBIGUOUS, np.int8)
        labels[(enrichment >= cfg.min_log2_enrichment) & (chip_n >= cfg.min_reads)] = POSITIVE
        bin_start, bin_end = window_bounds(length, cfg.stride, cfg.stride)
        enriched = merge_intervals(bin_start[enrichment > 0], bin_end[enrichment > 0])
        labels[_clear(*enriched, bin_start, bin_end, length, cfg.negative_margin)] = NEGATIVE
        out[chrom] = labels
    return out
