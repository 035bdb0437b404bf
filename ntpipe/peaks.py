"""Peaks files read against their genome: BED3+ (BED, narrowPeak, broadPeak,
gappedPeak by its full span), plain or gzipped, ``track``/``browser``/``#``
lines skipped.

Two things real peak callers write are not errors:

- peaks that run past a chromosome's end: MACS2 does not clip them (ENCODE's
  pipeline clips its peaks with bedClip); they are clipped to the chromosome,
  and a peak that starts at or past the end is dropped;
- peaks on chromosomes the genome lacks (ChrC and ChrM called on an aligner
  index with the organelles, beside a nuclear genome): skipped.

Both are counted in the notes that :func:`scan_peaks` returns (the start-up
check shows them, :func:`read_peaks` logs them). A file none of whose peaks
lies on the genome is an error, and so is a peak on one of the genome's
chromosomes under another naming (``chr01`` for ``Chr1``): skipped, its
windows would be taught as unmarked.
"""

import logging
from collections import Counter
from pathlib import Path

import numpy as np

from .chroms import Matcher, listed, log_renamed, other_naming
from .files import text_lines
from .intervals import merge_intervals

__all__ = ["scan_peaks", "read_peaks"]

log = logging.getLogger(__name__)


def scan_peaks(path, sizes, genome=None, aliases=False):
    """One pass over a peaks file (see the module doc).

    Parameters
    ----------
    path : the peaks file.
    sizes : ``{chrom: length}`` of its genome.
    genome : the genome's path, for messages (None: not named).
    aliases : chromosomes may be the genome's under another naming
        (:func:`ntpipe.chroms.match`); ambiguous ones are an error.

    Returns
    -------
    ``({chrom: [(start, end), ...]}`` keyed by the genome's names, clipped;
    notes: list of str, the peaks clipped and skipped).

    Raises
    ------
    ValueError naming the file, line, column and value: a line that is not
    BED, an interval that is not ``0 <= start <= end`` (zero-length ones are
    skipped, with a note), a name matching the
    genome's ambiguously, or a file without a peak on the genome.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"peaks file not found: {path}")
    genome = f"the genome {genome}" if genome else "the genome"
    names = Matcher(sizes, aliases)
    peaks, elsewhere, clipped, empty, n = {}, Counter(), [], [], 0
    first_at = {}  # line of each skipped chromosome's first peak
    for lineno, line in text_lines(path, "BED or narrowPeak text"):
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        fields = line.rstrip("\r\n").split("\t", 3)
        if len(fields) < 3:
            raise ValueError(f"{path}, line {lineno}: expected BED (chrom<TAB>start<TAB>end...), got {line.strip()[:80]!r}")
        try:
            start, end = int(fields[1]), int(fields[2])
        except ValueError:
            raise ValueError(
                f"{path}, line {lineno}, columns 2-3: start {fields[1]!r} and end {fields[2]!r} must be integers"
            ) from None
        if not 0 <= start <= end:
            raise ValueError(
                f"{path}, line {lineno}, columns 2-3: start {start} and end {end} are not a valid interval (0 <= start <= end)"
            )
        n += 1
        if start == end:  # BED's insertion point: no base is marked
            empty.append(lineno)
            continue
        try:
            chrom = names(fields[0])
        except ValueError as err:
            raise ValueError(f"{path}, line {lineno}, column 1: {err} (chrom_aliases: true);"
                             " expected one genome name per chromosome") from None
        if chrom is None:
            elsewhere[fields[0]] += 1
            first_at.setdefault(fields[0], lineno)
            continue
        if end > sizes[chrom]:
            clipped.append((lineno, chrom, start, end))
            if start >= sizes[chrom]:
                continue
            end = sizes[chrom]
        peaks.setdefault(chrom, []).append((start, end))
    if n == len(empty):
        what = f"only {n} zero-length interval(s)" if n else "the file is empty"
        raise ValueError(f"{path}: no peaks ({what}); a mark needs at least one peak per cultivar")
    if not peaks and not elsewhere:  # every peak past its chromosome's end
        lineno, chrom, start, end = clipped[0]
        raise ValueError(f"{path}, line {lineno}, columns 2-3: {chrom}:{start}-{end} starts past the end of {chrom}"
                         f" ({sizes[chrom]} bp in {genome}), as does every peak of the file; peaks of another assembly?")
    fix = "set chrom_aliases: true in the config to match it, or rename the peaks file's chromosomes to the genome's"
    if not peaks:
        name = next(iter(elsewhere))
        raise ValueError(
            f"{path}, line {first_at[name]}, column 1: chromosome {name!r} is not in {genome}"
            f" (its .fai names {listed(sizes)}), nor is any other of the file's ({listed(elsewhere)})"
            + other_naming(name, sizes, fix)
        )
    misnamed = [c for c in elsewhere if other_naming(c, sizes, fix)]
    if misnamed:  # not an organelle: the genome's own chromosome, whose marks would be left out
        name = misnamed[0]
        raise ValueError(
            f"{path}, line {first_at[name]}, column 1: chromosome {name!r} is not in {genome}:"
            f" {sum(elsewhere[c] for c in misnamed)} of the file's {n} peaks lie on chromosomes of the genome named"
            f" otherwise ({listed(misnamed)}), and skipped, their windows would be taught as unmarked"
            + other_naming(name, sizes, fix)
        )
    notes = []
    if elsewhere:
        name = next(iter(elsewhere))
        notes.append(f"{path}: {sum(elsewhere.values())} of {n} peak(s) skipped, on chromosomes {genome} lacks"
                     f" ({', '.join(f'{c}: {k}' for c, k in elsewhere.most_common(8))}; first at line {first_at[name]})")
    if empty:
        notes.append(f"{path}: {len(empty)} zero-length peak(s) (start = end, BED's insertion points) skipped; the first"
                     f" at line {empty[0]}")
    if clipped:
        lineno, chrom, start, end = clipped[0]
        notes.append(f"{path}: {len(clipped)} peak(s) ran past a chromosome end, clipped to it (the first, line {lineno}:"
                     f" {chrom}:{start}-{end}, {chrom} is {sizes[chrom]} bp; MACS2 does not clip its peaks)")
    log_renamed(log, path, names.renamed)
    return peaks, notes


def read_peaks(path, sizes, aliases=False, genome=None):
    """The peaks of a file (:func:`scan_peaks`, its notes logged as warnings)
    as ``{chrom: (starts, ends)}`` int64 arrays, sorted and merged where they
    overlap, keyed by the genome's names."""
    peaks, notes = scan_peaks(path, sizes, genome, aliases)
    for note in notes:
        log.warning(note)
    out = {}
    for chrom, intervals in peaks.items():
        starts, ends = np.array(intervals, np.int64).reshape(-1, 2).T
        out[chrom] = merge_intervals(starts, ends)
    return out
