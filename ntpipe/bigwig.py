"""bigWig tracks of binned predictions: a checked writer and a reader.

Bins follow :func:`ntpipe.encoding.bin_layout`: bin ``i`` of a chromosome of
length ``L`` covers ``[i*stride, min((i+1)*stride, L))``. Called bins are
written as fixed-step runs; no-call bins are left out (a gap, not NaN or 0).
"""

import glob
import logging
import os
from pathlib import Path

import numpy as np
import pyBigWig

from .encoding import n_bins

__all__ = ["BigWigWriter", "read_bins", "open_bigwig"]

log = logging.getLogger(__name__)


def _check_stride(stride):
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    return int(stride)


def _runs(called):
    """``(starts, ends)`` of the runs of True in a bool array (half-open)."""
    edges = np.diff(np.concatenate([[0], called.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


class BigWigWriter:
    """Write one bigWig, one chromosome of bins at a time, atomically.

    The file is written under a temporary name in the same directory and
    renamed to ``path`` on a clean exit of the ``with`` block; on an exception
    it is closed and deleted (nothing half-written is left), and the exception
    propagates. A job killed outright (SIGKILL, node failure) leaves only its
    temporary file (``.{name}.{pid}.tmp``), never ``path``; the next writer of
    ``path`` removes such leftovers, those last modified before it started,
    once it has renamed its own.

    Parameters
    ----------
    path : output path.
    chrom_sizes : ``[(name, length), ...]`` (or a dict) in the genome's
        ``.fai`` order; written to the header in this order.
    max_zooms : zoom levels to keep (>= 1; IGV cannot read files without them).

    Examples
    --------
    >>> with BigWigWriter("H3K4me3.bw", chrom_sizes(fasta)) as bw:  # doctest: +SKIP
    ...     bw.add_bins("Chr1", probs, called, stride=100)
    """

    def __init__(self, path, chrom_sizes, max_zooms=10):
        self.path = Path(path)
        sizes = list(chrom_sizes.items() if isinstance(chrom_sizes, dict) else chrom_sizes)
        if not sizes:
            raise ValueError("chrom_sizes is empty: a bigWig needs at least one chromosome")
        names = [name for name, _ in sizes]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate chromosome names in chrom_sizes: {names!r}")
        for name, length in sizes:
            if int(length) < 1:
                raise ValueError(f"chromosome {name!r} has length {length!r}; expected a positive length")
        if max_zooms < 1:
            raise ValueError(f"max_zooms must be at least 1 (IGV cannot read bigWigs without zoom levels), got {max_zooms!r}")
        self.sizes = [(str(name), int(length)) for name, length in sizes]
        self._order = {name: i for i, (name, _) in enumerate(self.sizes)}
        self.max_zooms = int(max_zooms)
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self._bw = None
        self._last = -1

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._bw = pyBigWig.open(str(self._tmp), "w")
        if self._bw is None:
            raise OSError(f"cannot open {self._tmp} for writing")
        self._bw.addHeader(self.sizes, maxZooms=self.max_zooms)
        self._started = os.stat(self._tmp).st_mtime_ns  # the file system's clock, as the leftovers' times
        return self

    def __exit__(self, exc_type, exc, tb):
        bw, self._bw = self._bw, None
        if exc_type is None:
            bw.close()
            os.replace(self._tmp, self.path)
            log.debug("wrote %s", self.path)
            self._remove_leftovers()
        else:
            try:
                bw.close()
            finally:
                self._tmp.unlink(missing_ok=True)
        return False

    def _remove_leftovers(self):
        """Delete the temporary files of killed writers of this path (older than this writer's)."""
        for tmp in self.path.parent.glob(f".{glob.escape(self.path.name)}.*.tmp"):
            try:
                if tmp.stat().st_mtime_ns < self._started:
                    tmp.unlink()
                    log.info("removed %s, left by an interrupted run", tmp)
            except FileNotFoundError:
                pass

    def add_bins(self, chrom, values, called, stride):
        """Write one chromosome's bins.

        Parameters
        ----------
        chrom : chromosome name; chromosomes must come in header order, each
            at most once (chromosomes may be skipped).
        values : float array of ``ceil(length / stride)`` bin values (stored as float32).
        called : bool array of the same length, or None for all called.
            No-call bins are left out and split the run.
        stride : bin width in bp.

        Raises
        ------
        ValueError for an unknown, repeated or out-of-order chromosome, a
        wrong number of bins, or a non-finite value in a called bin.
        """
        if self._bw is None:
            raise ValueError(f"{self.path}: add_bins called outside the 'with' block")
        stride = _check_stride(stride)
        if chrom not in self._order:
            raise ValueError(f"{self.path}: chromosome {chrom!r} is not in the header ({', '.join(self._order)})")
        index = self._order[chrom]
        if index <= self._last:
            raise ValueError(
                f"{self.path}: chromosome {chrom!r} comes after {self.sizes[self._last][0]!r} in the header"
                " order (.fai order) or was already written; expected each chromosome once, in header order"
            )
        length = self.sizes[index][1]
        count = n_bins(length, stride)
        values = np.asarray(values, dtype=np.float32)
        called = np.ones(values.shape, dtype=bool) if called is None else np.asarray(called)
        if values.shape != (count,):
            raise ValueError(
                f"{self.path}: {chrom!r} has length {length}, so {count} bins of {stride} bp; got values of shape {values.shape}"
            )
        if called.shape != (count,) or called.dtype != bool:
            raise ValueError(f"{self.path}: {chrom!r}: called must be a bool array of shape ({count},), got {called.dtype} {called.shape}")
        bad = np.flatnonzero(called & ~np.isfinite(values))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{self.path}: {chrom!r}: value {values[i]!r} at bin {i} (bp {i * stride}) is not finite")
        self._last = index

        partial = length % stride != 0
        for a, b in zip(*_runs(called)):
            full_end = b - 1 if partial and b == count else b  # the short last bin goes separately
            if full_end > a:
                self._bw.addEntries(chrom, int(a) * stride, values=values[a:full_end], span=stride, step=stride)
            if full_end < b:
                self._bw.addEntries([chrom], [int(full_end) * stride], ends=[length], values=values[full_end:b])


def open_bigwig(path):
    """``pyBigWig.open(path)`` for reading, with an error that names the file: pyBigWig raises a bare
    RuntimeError ("Unknown error during file opening") for a truncated or foreign file, which among a
    panel's thousands of tracks does not say which one."""
    try:
        bw = pyBigWig.open(str(path))
    except RuntimeError:
        bw = None
    if bw is None:
        raise ValueError(f"{path}: cannot open as bigWig (truncated, or not a bigWig?); delete it and rerun its job")
    return bw


def read_bins(path, chrom, stride):
    """Bin values of one chromosome, NaN where the file has no data.

    Parameters
    ----------
    path : bigWig path.
    chrom : chromosome name.
    stride : bin width the file was written with.

    Returns
    -------
    numpy float32 array of ``ceil(length / stride)`` values.
    """
    stride = _check_stride(stride)
    if not Path(path).is_file():
        raise FileNotFoundError(f"bigWig not found: {path}")
    bw = open_bigwig(path)
    try:
        chroms = bw.chroms()
        if chrom not in chroms:
            raise ValueError(f"{path}: no chromosome {chrom!r} (has {', '.join(chroms)})")
        out = np.full(n_bins(chroms[chrom], stride), np.nan, dtype=np.float32)
        intervals = bw.intervals(chrom)
    finally:
        bw.close()
    if intervals:
        starts = np.fromiter((iv[0] for iv in intervals), dtype=np.int64, count=len(intervals))
        vals = np.fromiter((iv[2] for iv in intervals), dtype=np.float64, count=len(intervals))
        if np.any(starts % stride):
            raise ValueError(f"{path}: {chrom!r} has intervals that do not start on {stride} bp bins")
        out[starts // stride] = vals
    return out
