"""Variant effects: which of a VCF variety's variants change a mark.

A VCF variety's tracks are on the reference's coordinates, and so are the
reference's own tracks (``results/reference/{mark}.bw``, predicted once for
the panel through the window cache). A variant's effect on a mark is read
off the two: over the bins whose reference window holds any base of the
variant's REF, ``delta = var_prob - ref_prob``, and the bin with the largest
``|delta|`` gives the row. No model runs here: the cost is reading two
bigWigs per mark and chromosome plus a few vectorised passes over the
variants.

Bin ``i``'s reference window is ``[i*stride - left, i*stride - left + size)``
with ``left = (size - stride) // 2`` (:func:`ntpipe.encoding.bin_layout`);
the variety's window for that bin holds its own sequence around the same
centre (:func:`ntpipe.variants.variety_windows`). A window's prediction
changes through every variant inside it, so ``n_variants`` counts the
variety's applied variants in the chosen bin's reference window, and
``others`` names the rest (``POS:REF>ALT``, 1-based) when there is more than
one: the delta belongs to them together.
"""

import logging

import numpy as np
import pandas as pd

from .bigwig import read_bins
from .encoding import bin_layout
from .files import atomic_path
from .variants import _within

__all__ = ["COLUMNS", "variant_effects", "write_effects"]

log = logging.getLogger(__name__)

COLUMNS = ["chrom", "pos", "ref", "alt", "mark", "ref_prob", "var_prob", "delta", "n_variants", "others", "gene",
           "gene_distance"]


def _bins_holding(pos, rlen, length, size, stride):
    """First and last bin whose reference window overlaps ``[pos, pos + rlen)``."""
    count, left, _ = bin_layout(length, size, stride)
    first = np.floor_divide(pos - size + left, stride) + 1
    last = np.floor_divide(pos + rlen - 1 + left, stride)
    return np.clip(first, 0, count - 1), np.clip(last, 0, count - 1)


def _strongest(delta, first, last):
    """Per variant, the bin in ``first..last`` with the largest ``|delta|``
    (NaN bins ignored), or -1 where every bin is NaN."""
    counts = last - first + 1
    offsets = np.cumsum(counts) - counts
    bins = np.repeat(first, counts) + _within(counts)
    strength = np.abs(delta[bins])
    strength[np.isnan(strength)] = -1.0
    group = np.repeat(np.arange(len(first)), counts)
    order = np.lexsort((-strength, group))  # by variant, strongest first
    best = order[offsets]
    return np.where(strength[best] >= 0, bins[best], -1)


def variant_effects(variants, ref_tracks, var_tracks, size, stride, sizes, min_delta=0.0, genes=None):
    """The effects table of one variety.

    Parameters
    ----------
    variants : ``{chrom: Variants}`` in the reference's order
        (:func:`ntpipe.variants.read_variants`).
    ref_tracks, var_tracks : ``{mark: bigWig path}``, the reference's and the
        variety's tracks, both on the reference's coordinates.
    size, stride : the models' window and bin.
    sizes : ``{chrom: length}`` of the reference.
    min_delta : keep rows with ``|delta| >= min_delta`` (0 keeps every variant
        and mark, also unchanged ones).
    genes : optional gene table (:func:`ntpipe.annotation.read_genes`): fills
        ``gene`` and ``gene_distance`` with the nearest gene.

    Returns
    -------
    DataFrame with :data:`COLUMNS`, sorted by ``|delta|`` (largest first), then
    chromosome (reference order), position and mark. Variants whose windows
    are all no-call bins have no row.
    """
    frames = []
    for rank, (chrom, var) in enumerate(variants.items()):
        if not len(var):
            continue
        length = sizes[chrom]
        pos, rlen = var.pos, var.ref_len
        first, last = _bins_holding(pos, rlen, length, size, stride)
        _, left, _ = bin_layout(length, size, stride)
        ends = pos + rlen  # sorted too: applied variants never overlap
        for mark in sorted(var_tracks):
            ref = read_bins(ref_tracks[mark], chrom, stride)
            alt = read_bins(var_tracks[mark], chrom, stride)
            best = _strongest(alt - ref, first, last)
            called = best >= 0
            delta = np.where(called, alt[best] - ref[best], np.nan)
            keep = np.flatnonzero(called & (np.abs(delta) >= min_delta))
            b = best[keep]
            lo = np.searchsorted(ends, b * stride - left, side="right")  # variants in the chosen bin's window
            hi = np.searchsorted(pos, b * stride - left + size, side="left")
            frames.append(pd.DataFrame({
                "_rank": rank, "_start": pos[keep], "chrom": chrom, "pos": pos[keep] + 1,
                "ref": [var.ref[i] for i in keep], "alt": [var.alt[i] for i in keep], "mark": mark,
                "ref_prob": ref[b], "var_prob": alt[b], "delta": delta[keep], "n_variants": hi - lo,
                "others": [_others(var, i, a, z) for i, a, z in zip(keep, lo, hi)],
            }))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["_rank", "_start"] + COLUMNS[:-2])
    _add_genes(table, genes)
    table["_strength"] = table["delta"].abs()
    table = table.sort_values(["_strength", "_rank", "_start", "mark"], ascending=[False, True, True, True], kind="stable")
    return table[COLUMNS].reset_index(drop=True)


def _others(var, i, lo, hi):
    return ",".join(f"{var.pos[j] + 1}:{var.ref[j]}>{var.alt[j]}" for j in range(lo, hi) if j != i)


def _add_genes(table, genes):
    table["gene"] = ""
    table["gene_distance"] = pd.array([pd.NA] * len(table), dtype="Int64")
    if genes is None or not len(table):
        return
    from .annotation import nearest_genes

    for chrom, rows in table.groupby("chrom", sort=False):
        ids, dist = nearest_genes(genes, chrom, rows["_start"].to_numpy())
        found = np.asarray(ids) != ""
        table.loc[rows.index, "gene"] = ids
        table.loc[rows.index[found], "gene_distance"] = np.asarray(dist)[found]


def write_effects(table, out):
    """Write the effects table as TSV (header row, probabilities to 4 decimals), atomically."""
    with atomic_path(out) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4f", na_rep="")
    return out
