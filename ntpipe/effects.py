"""Variant effects: which of a VCF variety's variants change a mark.

A VCF variety's tracks are on the reference's coordinates, and so are the
reference's own tracks (``results/reference/{mark}.bw``, predicted once for
the panel through the window cache). Each variant is scored alone: over the
bins whose reference window holds any base of the variant's REF, the model
reads that window with this one variant applied to the reference
(:func:`single_variant_windows`) and ``delta = var_prob - ref_prob``, with
``ref_prob`` the reference's track; the bin with the largest ``|delta|``
gives the row. A variety's window usually holds several of its variants
(and its indels shift what the model reads), so the variety's own track
differs from the reference's through all of them together: that difference
at the chosen bin is ``haplotype_delta``, and ``n_variants`` / ``others``
name the variety's variants in that window.

Cost: only the variants in windows where the variety's track moves by at
least ``min_delta`` against the reference's (read off the two bigWigs) are
scored alone, one model window per bin that holds them (``size / stride``
per variant), through the window cache, so a variant that many varieties
share is predicted once for the panel.

Bin ``i``'s reference window is ``[i*stride - left, i*stride - left + size)``
with ``left = (size - stride) // 2`` (:func:`ntpipe.encoding.bin_layout`);
the variety's window for that bin holds its own sequence around the same
centre (:func:`ntpipe.variants.variety_windows`), and so does the window with
one variant alone.
"""

import numpy as np
import pandas as pd

from .bigwig import read_bins
from .encoding import N_TOKEN, bin_layout, encode
from .files import atomic_path
from .genome import chrom_sizes, encode_chrom
from .variants import Variants, _within, allele_offsets, anchors, trim_calls

__all__ = ["COLUMNS", "variant_effects", "effects_by_window", "single_variant_windows", "write_effects"]

COLUMNS = ["chrom", "pos", "ref", "alt", "mark", "ref_prob", "var_prob", "delta", "haplotype_delta", "n_variants",
           "others", "gene", "gene_distance"]
CHUNK = 20_000  # variants scored alone per model call (about 4 kb of sequence each at 2 kb windows)


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


def _reference_stretch(tokens, lo, hi):
    """``tokens[lo:hi]`` with N outside the chromosome."""
    out = np.full(max(hi - lo, 0), N_TOKEN, np.uint8)
    a, b = max(lo, 0), min(hi, len(tokens))
    if b > a:
        out[a - lo : b - lo] = tokens[a:b]
    return out


def single_variant_windows(ref_tokens, variants, index, size, stride):
    """The windows of the bins that hold each variant, with that variant alone applied to the reference.

    Bin ``b`` holds variant ``i`` when its reference window overlaps the
    variant's REF (:func:`_bins_holding`). Its window is the one
    :func:`ntpipe.variants.variety_windows` cuts for ``b`` from a consensus
    with variant ``i`` as the only variant: centred on the bin's reference
    centre mapped through the variant, ``size`` long, N outside the
    chromosome. Each variant gets one stretch of that consensus that holds all
    its windows; the stretches are joined.

    Parameters
    ----------
    ref_tokens : uint8 tokens of the reference chromosome.
    variants : :class:`ntpipe.variants.Variants` of that chromosome, trimmed
        (:func:`ntpipe.variants.trim_calls`; the readers' are).
    index : indices of the variants to score.
    size, stride : the models' window and bin.

    Returns
    -------
    padded : uint8 array, the stretches joined.
    starts : int64 array, ``padded[starts[j]:starts[j] + size]`` is window ``j``.
    owner : int64 array, the variant (an entry of ``index``) of window ``j``.
    bins : int64 array, the bin of window ``j``.
    """
    length = len(ref_tokens)
    index = np.asarray(index, dtype=np.int64)
    _, left, _ = bin_layout(length, size, stride)
    half = size // 2
    first, last = _bins_holding(variants.pos[index], variants.ref_len[index], length, size, stride)
    head, tail = anchors(Variants(variants.pos[index], [variants.ref[i] for i in index], [variants.alt[i] for i in index]))
    pieces, starts, owner, bins, offset = [], [], [], [], 0
    for j, (i, f, l) in enumerate(zip(index, first, last)):
        pos, rlen, alt = int(variants.pos[i]), len(variants.ref[i]), encode(variants.alt[i])
        b = np.arange(f, l + 1, dtype=np.int64)
        centre = b * stride - left + half  # reference centres, mapped as apply_variants maps them
        within = pos + allele_offsets(centre - pos, rlen, len(alt), head[j], tail[j])
        mapped = np.where(centre < pos, centre, np.where(centre < pos + rlen, within, centre + len(alt) - rlen))
        lo, hi = min(int(mapped[0]) - half, pos), max(int(mapped[-1]) - half + size, pos + len(alt))
        stretch = np.concatenate([_reference_stretch(ref_tokens, lo, pos), alt,
                                  _reference_stretch(ref_tokens, pos + rlen, hi - len(alt) + rlen)])
        pieces.append(stretch)
        starts.append(mapped - half - lo + offset)
        owner.append(np.full(len(b), i, np.int64))
        bins.append(b)
        offset += len(stretch)
    if not pieces:
        empty = np.empty(0, np.int64)
        return np.empty(0, np.uint8), empty, empty, empty
    return np.concatenate(pieces), np.concatenate(starts), np.concatenate(owner), np.concatenate(bins)


def variant_effects(variants, reference, predict, ref_tracks, var_tracks, size, stride, min_delta=0.0, genes=None):
    """The effects table of one variety.

    Parameters
    ----------
    variants : ``{chrom: Variants}`` in the reference's order
        (:func:`ntpipe.variants.read_variants`).
    reference : the reference FASTA, open (:func:`ntpipe.genome.open_fasta`).
    predict : ``predict(padded, starts) -> (n_marks, n) probabilities`` of the
        marks of ``ref_tracks`` in sorted order for the windows
        ``padded[s:s + size]`` (:meth:`ntpipe.cache.WindowCache.predict` or
        :func:`ntpipe.infer.predict_windows` with the models bound).
    ref_tracks, var_tracks : ``{mark: bigWig path}``, the reference's and the
        variety's tracks, both on the reference's coordinates.
    size, stride : the models' window and bin.
    min_delta : score alone the variants whose windows' track moves by at
        least this in the variety, and keep rows with ``|delta| >= min_delta``
        (0 scores and keeps every variant and mark, also unchanged ones).
    genes : optional gene table (:func:`ntpipe.annotation.read_genes`): fills
        ``gene`` and ``gene_distance`` with the nearest gene.

    Returns
    -------
    DataFrame with :data:`COLUMNS`, sorted by ``|delta|`` (largest first), then
    chromosome (reference order), position and mark. Variants whose windows
    are all no-call bins have no row.
    """
    marks = sorted(ref_tracks)
    frames = []
    for rank, (chrom, var) in enumerate(variants.items()):
        if not len(var):
            continue
        var = trim_calls(var)  # the readers' are already
        ref_tokens = encode_chrom(reference, chrom)
        length = len(ref_tokens)
        first, last = _bins_holding(var.pos, var.ref_len, length, size, stride)
        ref = {m: read_bins(ref_tracks[m], chrom, stride) for m in marks}
        hap = {m: read_bins(var_tracks[m], chrom, stride) - ref[m] for m in marks}
        moved = np.zeros(len(var), dtype=bool)
        for m in marks:
            best = _strongest(hap[m], first, last)
            moved |= (best >= 0) & (np.abs(np.where(best >= 0, hap[m][best], 0)) >= min_delta)
        scored = np.flatnonzero(moved)
        for lo in range(0, len(scored), CHUNK):
            index = scored[lo : lo + CHUNK]
            padded, starts, owner, bins = single_variant_windows(ref_tokens, var, index, size, stride)
            probs = predict(padded, starts)
            for m, mark in enumerate(marks):
                frames.append(_rows(chrom, rank, var, mark, probs[m], owner, bins, ref[mark], hap[mark], length, size,
                                    stride, min_delta))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["_rank", "_start"] + COLUMNS[:-2])
    _add_genes(table, genes)
    table["_strength"] = table["delta"].abs()
    table = table.sort_values(["_strength", "_rank", "_start", "mark"], ascending=[False, True, True, True], kind="stable")
    return table[COLUMNS].reset_index(drop=True)


def effects_by_window(variants, reference, predictors, ref_tracks, var_tracks, stride, **options):
    """:func:`variant_effects` where the marks' models read windows of different sizes, one table in its order.

    ``predictors`` is ``{window: (marks, predict)}`` (:func:`ntpipe.steps.single_variant_predictor`); each
    window's marks are scored on windows of that size, and their tables merged by ``|delta|`` (largest first),
    then chromosome (the reference's order), position and mark. ``options``: :func:`variant_effects`'.
    """
    tables = [variant_effects(variants, reference, predict, {m: ref_tracks[m] for m in marks},
                              {m: var_tracks[m] for m in marks}, window, stride, **options)
              for window, (marks, predict) in predictors.items()]
    if len(tables) == 1:
        return tables[0]
    table = pd.concat(tables, ignore_index=True)
    chroms = {c: i for i, (c, _) in enumerate(chrom_sizes(reference))}
    table["_strength"], table["_rank"] = table["delta"].abs(), table["chrom"].map(chroms)
    table = table.sort_values(["_strength", "_rank", "pos", "mark"], ascending=[False, True, True, True], kind="stable")
    return table[COLUMNS].reset_index(drop=True)


def _rows(chrom, rank, var, mark, prob, owner, bins, ref, hap, length, size, stride, min_delta):
    """Rows of one mark for the variants scored alone (windows ``owner`` x ``bins``, contiguous per variant)."""
    delta = prob - ref[bins]  # NaN at no-call bins
    at = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])  # each variant's first window
    index = owner[at]
    best = _strongest(delta, at, np.r_[at[1:], len(owner)] - 1)  # a window of each variant (or -1)
    keep = (best >= 0) & (np.abs(np.where(best >= 0, delta[best], 0)) >= min_delta)
    index, best = index[keep], best[keep]
    b = bins[best]
    _, left, _ = bin_layout(length, size, stride)
    ends = var.pos + var.ref_len  # sorted too: applied variants never overlap
    lo = np.searchsorted(ends, b * stride - left, side="right")  # the variety's variants in the chosen bin's window
    hi = np.searchsorted(var.pos, b * stride - left + size, side="left")
    return pd.DataFrame({
        "_rank": rank, "_start": var.pos[index], "chrom": chrom, "pos": var.pos[index] + 1,
        "ref": [var.ref[i] for i in index], "alt": [var.alt[i] for i in index], "mark": mark,
        "ref_prob": ref[b], "var_prob": prob[best], "delta": delta[best], "haplotype_delta": hap[b],
        "n_variants": hi - lo, "others": [_others(var, i, a, z) for i, a, z in zip(index, lo, hi)],
    })


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
