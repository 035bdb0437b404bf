"""One mark's values for the whole panel, at the bins where varieties differ.

The matrix is a bgzipped, tabix-indexed phenotype BED, the layout
QTLtools, FastQTL and tensorQTL read for molecular-QTL mapping::

    #chr  start  end  pid  gid  strand  IRIS_313-10003  IRIS_313-10004 ...
    Chr1  1200   1300 Chr1:1201-1300  Chr1:1201-1300  +  0.8123  0.1042 ...

one row per bin (0-based start, half-open end, ``pid`` = ``gid`` = the bin's
1-based locus), one column per variety. Why this and not Zarr/xarray: those
tools read it as it is, tabix/pysam fetch a region without reading the rest,
pandas reads it whole, and it needs no dependency beyond pysam (Zarr and
xarray would add two).

Only varieties on the reference's coordinates share bins (VCF varieties with
``prediction.coordinates: reference``); the caller passes those. A bin is
written when ``max - min`` over the varieties that have a value there is at
least ``min_spread`` (0 writes every bin with a value); no-call bins (no
entry in a variety's bigWig) are ``NA``, and bins no variety calls are never
written. tensorQTL needs complete rows: drop or impute the rows with ``NA``
first (QTLtools takes them as they are). Values have 4 significant digits.

The panel is streamed: a chunk of bins of one chromosome at a time, read from
every variety's bigWig, so memory stays at a few tens of MB whatever the
panel's size.
"""

import io
import logging
import resource
from pathlib import Path

import numpy as np
import pandas as pd

from .bigwig import open_bigwig
from .encoding import n_bins
from .files import atomic_path

__all__ = ["write_panel"]

log = logging.getLogger(__name__)

_CHUNK_VALUES = 4_000_000  # bins x varieties held at once
_CHUNK_BASES = 10_000_000  # bases read from one bigWig at once
KEY_COLUMNS = ["#chr", "start", "end", "pid", "gid", "strand"]


def _raise_file_limit(n):
    """Raise the soft open-file limit (to the hard one) so ``n`` bigWigs can be held open."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = n + 64
    if need > soft and (hard == resource.RLIM_INFINITY or need <= hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    elif need > soft:
        raise ValueError(
            f"{n} bigWigs to read at once but at most {hard} open files are allowed (ulimit -Hn);"
            " raise the limit or split the varieties sheet"
        )


def _open_tracks(tracks, chrom_sizes):
    """Open every bigWig, checking it is on the reference's chromosomes."""
    handles = []
    try:
        for variety, path in tracks.items():
            if not Path(path).is_file():
                raise FileNotFoundError(f"bigWig of {variety} not found: {path}")
            bw = open_bigwig(path)
            handles.append(bw)
            chroms = bw.chroms()
            for chrom, length in chrom_sizes:
                if chroms.get(chrom) != length:
                    raise ValueError(
                        f"{path}: {chrom!r} is {chroms.get(chrom, 'absent')} bp here, {length} bp in the reference;"
                        f" expected tracks on the reference's coordinates (a VCF variety with coordinates: reference)"
                    )
    except BaseException:
        for bw in handles:
            bw.close()
        raise
    return handles


def _chunk_rows(chrom, values, first_bin, length, stride, min_spread, names):
    """The rows of one chunk (``values``: varieties x bins) whose spread is at least ``min_spread``."""
    missing = np.isnan(values)
    spread = np.where(missing, -np.inf, values).max(axis=0) - np.where(missing, np.inf, values).min(axis=0)
    keep = np.flatnonzero(spread >= min_spread)  # -inf where no variety has a value
    if not keep.size:
        return None
    starts = (first_bin + keep) * stride
    ends = np.minimum(starts + stride, length)
    loci = [f"{chrom}:{s + 1}-{e}" for s, e in zip(starts.tolist(), ends.tolist())]
    frame = pd.DataFrame(values[:, keep].T, columns=names)
    frame.insert(0, "#chr", chrom)
    frame.insert(1, "start", starts)
    frame.insert(2, "end", ends)
    frame.insert(3, "pid", loci)
    frame.insert(4, "gid", loci)
    frame.insert(5, "strand", "+")
    return frame


def write_panel(path, tracks, chrom_sizes, stride, min_spread):
    """Write one mark's panel matrix (see the module doc) and its tabix index.

    Parameters
    ----------
    path : output, ending in ``.bed.gz``; the index is ``path + ".tbi"``.
    tracks : ``{variety: bigWig path}`` in column order, all on the reference.
    chrom_sizes : ``[(name, length), ...]`` of the reference, in ``.fai`` order.
    stride : bin width the bigWigs were written with.
    min_spread : write bins where ``max - min`` across varieties is at least this.

    Returns
    -------
    Number of bins (rows) written.

    Raises
    ------
    FileNotFoundError for a missing bigWig; ValueError for a bigWig whose
    chromosomes are not the reference's, or bad arguments.
    """
    import pysam

    path = Path(path)
    if not path.name.endswith(".bed.gz"):
        raise ValueError(f"panel file must end in .bed.gz, got {path}")
    if not tracks:
        raise ValueError("no varieties for the panel; expected {variety: bigWig} on the reference's coordinates")
    if not 0 <= min_spread <= 1:
        raise ValueError(f"min_spread must be within 0-1 (probabilities), got {min_spread!r}")
    names = list(tracks)
    chrom_sizes = list(chrom_sizes.items() if isinstance(chrom_sizes, dict) else chrom_sizes)
    chunk = max(1, min(_CHUNK_VALUES // len(names), _CHUNK_BASES // stride))
    _raise_file_limit(len(names))
    handles = _open_tracks(tracks, chrom_sizes)
    rows = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path, suffix=".bed.gz") as tmp:
            with pysam.BGZFile(str(tmp), "wb") as out:
                out.write(("\t".join(KEY_COLUMNS + names) + "\n").encode())
                for chrom, length in chrom_sizes:
                    total = n_bins(length, stride)
                    for first in range(0, total, chunk):
                        last = min(first + chunk, total)
                        start, end = first * stride, min(last * stride, length)
                        values = np.empty((len(names), last - first), dtype=np.float32)
                        for i, bw in enumerate(handles):
                            values[i] = bw.values(chrom, start, end, numpy=True)[::stride]
                        frame = _chunk_rows(chrom, values, first, length, stride, min_spread, names)
                        if frame is not None:
                            text = io.StringIO()
                            frame.to_csv(text, sep="\t", header=False, index=False, float_format="%.4g", na_rep="NA")
                            out.write(text.getvalue().encode())
                            rows += len(frame)
            pysam.tabix_index(str(tmp), seq_col=0, start_col=1, end_col=2, zerobased=True, meta_char="#", force=True)
            Path(f"{tmp}.tbi").replace(f"{path}.tbi")
    finally:
        for bw in handles:
            bw.close()
    log.info("wrote %s: %d bins where %d varieties differ by at least %g", path, rows, len(names), min_spread)
    return rows
