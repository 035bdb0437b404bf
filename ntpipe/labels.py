"""Labelled training windows from peaks or from ChIP-seq alignments.

Every cultivar genome is tiled like a track (:func:`ntpipe.encoding.bin_layout`):
one window of ``size`` bp centred on each ``stride`` bp bin.

Peaks: a window is positive when peaks cover at least ``positive_fraction`` of
its central bin, negative when no peak touches the window at all, and left out
(ambiguous) in between.

BAM (documented enrichment rule): reads are counted by their 5' position over
the whole window, in counts per million mapped reads (CPM). With a control,
``log2((chip_cpm + 1) / (control_cpm + 1))``; without one, the control is the
ChIP's own genome-wide mean for a window. A window is positive when that
reaches ``min_log2_enrichment`` and holds at least ``min_reads`` ChIP reads,
negative when it is at most 0, ambiguous in between.

Windows whose on-chromosome part is more than ``max_n_fraction`` N are dropped. Positives are capped
at ``max_per_cultivar`` per cultivar; negatives are sampled at
``negative_ratio`` per positive, matched on GC content when ``gc_match``.
The result is stored compactly: uint8 tokens of the chosen windows.
"""

import gzip
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .files import atomic_path
from .encoding import N_TOKEN, called_bins, pad_for_bins, sliding_windows, window_bounds
from .genome import chrom_sizes, encode_chrom, open_fasta
from .intervals import covered_before, merge_intervals

log = logging.getLogger(__name__)

__all__ = [
    "LabelConfig",
    "read_peaks",
    "peak_labels",
    "bam_labels",
    "sample_windows",
    "build_labels",
    "load_labels",
    "split_by_chrom",
]

POSITIVE, NEGATIVE, AMBIGUOUS = 1, 0, -1


@dataclass
class LabelConfig:
    size: int = 1000
    stride: int = 100
    max_n_fraction: float = 0.5
    positive_fraction: float = 0.5
    negative_ratio: float = 1.0
    gc_match: bool = True
    max_per_cultivar: int = 20000
    min_log2_enrichment: float = 1.0
    min_reads: int = 5
    seed: int = 0


def read_peaks(path, sizes):
    """Read BED3+ peaks (narrowPeak, broadPeak; plain or gzipped).

    Parameters
    ----------
    path : peaks file.
    sizes : ``{chrom: length}`` of the genome the peaks are on.

    Returns
    -------
    ``{chrom: (starts, ends)}`` int64 arrays, sorted, merged where they overlap.

    Raises
    ------
    ValueError naming the file and line for an empty file, malformed lines,
    chromosomes the genome lacks, or peaks past a chromosome end.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"peaks file not found: {path}")
    opener = gzip.open if path.name.endswith(".gz") else open
    rows = []
    with opener(path, "rt") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\n").split("\t")
            try:
                chrom, start, end = fields[0], int(fields[1]), int(fields[2])
            except (IndexError, ValueError):
                raise ValueError(f"{path}, line {lineno}: expected BED (chrom<TAB>start<TAB>end...), got {line.strip()[:80]!r}") from None
            if chrom not in sizes:
                raise ValueError(f"{path}, line {lineno}: chromosome {chrom!r} is not in the genome (it has {list(sizes)[:12]})")
            if not 0 <= start < end:
                raise ValueError(f"{path}, line {lineno}: start {start} and end {end} are not a valid interval (0 <= start < end)")
            if end > sizes[chrom]:
                raise ValueError(f"{path}, line {lineno}: peak {chrom}:{start}-{end} runs past the chromosome end ({sizes[chrom]})")
            rows.append((chrom, start, end))
    if not rows:
        raise ValueError(f"{path}: no peaks (the file is empty); a mark needs at least one peak per cultivar")
    df = pd.DataFrame(rows, columns=["chrom", "start", "end"])
    return {chrom: merge_intervals(g.start.to_numpy(np.int64), g.end.to_numpy(np.int64)) for chrom, g in df.groupby("chrom", sort=False)}


def peak_labels(intervals, length, size, stride, positive_fraction):
    """Label every bin of one chromosome from its merged peaks (see module doc).

    Returns int8 array (n_bins,) of 1 (positive), 0 (negative), -1 (ambiguous).
    """
    starts, ends = intervals if intervals is not None else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    bin_start, bin_end = window_bounds(length, stride, stride)
    win_start, win_end = window_bounds(length, size, stride)
    bin_cov = covered_before(bin_end, starts, ends) - covered_before(bin_start, starts, ends)
    win_cov = covered_before(win_end, starts, ends) - covered_before(win_start, starts, ends)
    labels = np.full(len(bin_start), AMBIGUOUS, np.int8)
    labels[bin_cov >= positive_fraction * (bin_end - bin_start)] = POSITIVE
    labels[win_cov == 0] = NEGATIVE
    return labels


def _read_starts(bam, chrom):
    """5' positions of the mapped, primary, non-duplicate reads on ``chrom``."""
    pos = [
        r.reference_end - 1 if r.is_reverse else r.reference_start
        for r in bam.fetch(chrom)
        if not (r.is_unmapped or r.is_secondary or r.is_supplementary or r.is_duplicate)
    ]
    return np.asarray(pos, dtype=np.int64)


def _window_counts(read_pos, length, size, stride):
    cum = np.concatenate([[0], np.cumsum(np.bincount(read_pos, minlength=length)[:length])])
    lo, hi = window_bounds(length, size, stride)
    return cum[hi] - cum[lo]


def bam_labels(chip, control, sizes, cfg):
    """Label every bin from ChIP (and optional control) alignments.

    Parameters
    ----------
    chip, control : paths to sorted, indexed BAMs (control may be None).
    sizes : ``{chrom: length}`` of the cultivar genome, in .fai order.
    cfg : :class:`LabelConfig`.

    Returns ``{chrom: int8 labels}`` (see module doc for the rule).
    """
    import pysam

    def open_bam(path):
        if not Path(path).is_file():
            raise FileNotFoundError(f"BAM not found: {path}")
        bam = pysam.AlignmentFile(str(path), "rb")
        if not bam.has_index():
            raise ValueError(f"{path}: BAM has no index (run samtools index)")
        missing = [c for c in bam.references if c not in sizes]
        if missing:
            raise ValueError(f"{path}: BAM references {missing[:5]} are not in the genome")
        return bam

    bams = [open_bam(chip)] + ([open_bam(control)] if control else [])
    starts = [{c: _read_starts(b, c) if c in b.references else np.zeros(0, np.int64) for c in sizes} for b in bams]
    totals = [sum(len(v) for v in s.values()) for s in starts]
    for b in bams:
        b.close()
    if totals[0] == 0:
        raise ValueError(f"{chip}: no mapped reads")
    genome_length = sum(sizes.values())
    out = {}
    for chrom, length in sizes.items():
        chip_n = _window_counts(starts[0][chrom], length, cfg.size, cfg.stride)
        chip_cpm = chip_n * 1e6 / totals[0]
        if control:
            ctrl_cpm = _window_counts(starts[1][chrom], length, cfg.size, cfg.stride) * 1e6 / max(totals[1], 1)
        else:
            ctrl_cpm = np.full(len(chip_n), cfg.size / genome_length * 1e6)
        enrichment = np.log2((chip_cpm + 1) / (ctrl_cpm + 1))
        labels = np.full(len(chip_n), AMBIGUOUS, np.int8)
        labels[(enrichment >= cfg.min_log2_enrichment) & (chip_n >= cfg.min_reads)] = POSITIVE
        labels[enrichment <= 0] = NEGATIVE
        out[chrom] = labels
    return out


def sample_windows(labels, gc, rng, cfg):
    """Choose window indices: positives (capped) and GC-matched negatives.

    Parameters
    ----------
    labels : int8 (n,) with 1, 0, -1; gc : float (n,) GC fraction per window.

    Returns sorted int64 indices into ``labels``.
    """
    pos = np.flatnonzero(labels == POSITIVE)
    neg = np.flatnonzero(labels == NEGATIVE)
    if len(pos) > cfg.max_per_cultivar:
        pos = rng.choice(pos, cfg.max_per_cultivar, replace=False)
    k = min(len(neg), int(round(len(pos) * cfg.negative_ratio)))
    if k == 0:
        return np.sort(pos)
    if cfg.gc_match and len(pos):
        edges = np.linspace(0, 1, 11)
        pos_hist = np.histogram(gc[pos], edges)[0] / len(pos)
        neg_bin = np.clip(np.digitize(gc[neg], edges) - 1, 0, 9)
        neg_hist = np.bincount(neg_bin, minlength=10) / len(neg)
        weight = np.where(neg_hist[neg_bin] > 0, pos_hist[neg_bin] / np.maximum(neg_hist[neg_bin], 1e-12), 0) + 1e-6
        chosen = rng.choice(neg, k, replace=False, p=weight / weight.sum())
    else:
        chosen = rng.choice(neg, k, replace=False)
    return np.sort(np.concatenate([pos, chosen]))


def _gc_fraction(windows):
    called = (windows != N_TOKEN).sum(1)
    gc = ((windows == 1) | (windows == 2)).sum(1)
    return gc / np.maximum(called, 1)


def _cultivar_windows(row, cfg, rng):
    fasta = open_fasta(row["genome"])
    sizes = dict(chrom_sizes(fasta))
    if row.get("peaks"):
        peaks = read_peaks(row["peaks"], sizes)
        by_chrom = {c: peak_labels(peaks.get(c), n, cfg.size, cfg.stride, cfg.positive_fraction) for c, n in sizes.items()}
    else:
        by_chrom = bam_labels(row["bam"], row.get("control") or None, sizes, cfg)
    tokens, labels, chroms, starts = [], [], [], []
    for chrom, length in sizes.items():
        seq = encode_chrom(fasta, chrom)
        win = sliding_windows(pad_for_bins(seq, cfg.size, cfg.stride), cfg.size, cfg.stride)
        lab = by_chrom[chrom].copy()
        lab[~called_bins(seq, cfg.size, cfg.stride, cfg.max_n_fraction)] = AMBIGUOUS
        keep = np.flatnonzero(lab != AMBIGUOUS)
        tokens.append(win[keep])  # copies only the labelled windows
        labels.append(lab[keep])
        chroms.append(np.full(len(keep), chrom, dtype=object))
        starts.append(keep * cfg.stride)
    fasta.close()
    tokens, labels = np.concatenate(tokens), np.concatenate(labels)
    chosen = sample_windows(labels, _gc_fraction(tokens), rng, cfg)
    return tokens[chosen], labels[chosen], np.concatenate(chroms)[chosen], np.concatenate(starts)[chosen]


def build_labels(rows, cfg, out):
    """Labelled windows of one mark over all its cultivars, saved to ``out`` (.npz).

    Parameters
    ----------
    rows : iterable of dicts with cultivar, genome, and peaks or bam (+ control).
    cfg : :class:`LabelConfig`.
    out : output path; written to a temporary name and renamed when complete.

    Returns a dict of counts per cultivar.
    """
    rng = np.random.default_rng(cfg.seed)
    parts, summary = [], {}
    for row in rows:
        tok, lab, chrom, start = _cultivar_windows(row, cfg, rng)
        parts.append((tok, lab, chrom, start, np.full(len(lab), row["cultivar"], dtype=object)))
        summary[row["cultivar"]] = {"positive": int(lab.sum()), "negative": int((lab == 0).sum())}
        log.info("%s: %d positive, %d negative windows", row["cultivar"], lab.sum(), (lab == 0).sum())
    tokens, labels, chroms, starts, cultivars = (np.concatenate(x) for x in zip(*parts))
    if labels.sum() == 0:
        raise ValueError(f"no positive windows for {out}: check the peaks and the labels settings")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh, tokens=tokens, labels=labels.astype(np.uint8), chrom=chroms.astype(str),
            start=starts.astype(np.int64), cultivar=cultivars.astype(str), size=cfg.size, stride=cfg.stride,
        )
    return summary


def load_labels(path):
    """Load a labels .npz as a dict of arrays."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def split_by_chrom(data, valid_chroms, test_chroms):
    """Split labelled windows into train / valid / test by chromosome name.

    Raises ValueError when a split would be empty or the lists overlap.
    """
    valid_chroms, test_chroms = set(valid_chroms), set(test_chroms)
    if valid_chroms & test_chroms:
        raise ValueError(f"chromosomes {sorted(valid_chroms & test_chroms)} are both validation and test chromosomes")
    chrom = data["chrom"]
    masks = {
        "valid": np.isin(chrom, list(valid_chroms)),
        "test": np.isin(chrom, list(test_chroms)),
    }
    masks["train"] = ~(masks["valid"] | masks["test"])
    present = sorted(set(chrom.tolist()))
    for name, mask in masks.items():
        if not mask.any() or data["labels"][mask].min() == data["labels"][mask].max():
            raise ValueError(
                f"the {name} split has no windows of both classes; split chromosomes valid={sorted(valid_chroms)}, "
                f"test={sorted(test_chroms)}; chromosomes with labelled windows: {present}"
            )
    return {name: (data["tokens"][m], None, data["labels"][m]) for name, m in masks.items()}
