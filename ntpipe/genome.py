"""FASTA access with pyfaidx: 0-based half-open fetch, chromosome sizes in
``.fai`` order, and whole chromosomes as tokens.

Plain and bgzip-compressed FASTA are read; the index is built when missing.
"""

import gzip
from pathlib import Path

import numpy as np
import pyfaidx

from .files import atomic_path, is_gzip
from .encoding import encode

__all__ = ["open_fasta", "chrom_sizes", "fetch", "encode_chrom", "write_fasta", "write_chrom_sizes"]


def _check_header_lines(path):
    """Read the FASTA headers once and fail clearly on the usual problems."""
    opener = gzip.open if is_gzip(path) else open
    names, n_seq = set(), 0
    with opener(path, "rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.startswith(b">"):
                continue
            n_seq += 1
            header = line[1:].rstrip(b"\r\n")
            name = header.split(maxsplit=1)[0].decode(errors="replace") if header.strip() else ""
            if not name or header[:1].isspace():
                raise ValueError(f"{path}, line {lineno}: sequence header {line.rstrip()!r} has no name right after '>'")
            if name in names:
                raise ValueError(f"{path}, line {lineno}: duplicate sequence name {name!r}")
            names.add(name)
    if n_seq == 0:
        raise ValueError(f"{path}: no sequences found (empty FASTA or not FASTA)")


def open_fasta(path):
    """Open a FASTA (plain or bgzip) with pyfaidx, building ``.fai`` if missing.

    Raises
    ------
    FileNotFoundError if the file is missing; ValueError for an empty FASTA,
    duplicate or unnamed sequences, a gzip file that is not bgzip, or an
    index that is needed and cannot be written.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FASTA not found: {path}")
    fai = Path(str(path) + ".fai")
    try:
        if not fai.exists() or fai.stat().st_mtime < path.stat().st_mtime:
            _check_header_lines(path)
            # index under a temporary name, then rename: parallel jobs never read half an index
            try:
                with atomic_path(fai) as tmp:
                    pyfaidx.Faidx(str(path), indexname=str(tmp), rebuild=True).close()
            except pyfaidx.UnsupportedCompressionFormat:  # an OSError too: not the folder's fault
                raise
            except OSError as err:  # a shared reference in a read-only folder
                raise ValueError(f"{path}: has no up-to-date index and {fai} cannot be written ({err.strerror or err});"
                                 f" index it where it can be written (samtools faidx {path}), or link the FASTA into a"
                                 " writable folder (ln -s) and name the link instead") from None
        # pyfaidx keeps the full header line otherwise; the name is the first word.
        return pyfaidx.Fasta(
            str(path), sequence_always_upper=False, read_long_names=False, rebuild=False, build_index=True
        )
    except pyfaidx.UnsupportedCompressionFormat as err:
        raise ValueError(f"{path}: compressed FASTA must be bgzip (bgzip -c file.fa > file.fa.gz): {err}") from None
    except pyfaidx.FastaIndexingError as err:
        raise ValueError(f"{path}: cannot index FASTA: {err}") from None


def chrom_sizes(fasta):
    """``[(name, length), ...]`` in ``.fai`` order (never sorted by name)."""
    fa = fasta if isinstance(fasta, pyfaidx.Fasta) else open_fasta(fasta)
    return [(name, len(fa[name])) for name in fa.keys()]


def fetch(fasta, chrom, start, end):
    """Sequence of ``chrom[start:end]`` (0-based, half-open) as a string."""
    return str(fasta[chrom][start:end])


def encode_chrom(fasta, chrom):
    """A whole chromosome as uint8 tokens (A,C,G,T=0..3, anything else N=4).

    Raises ValueError naming the FASTA and chromosome if a byte is not sequence.
    """
    seq = fasta[chrom][:].seq
    try:
        return encode(seq)
    except ValueError as err:
        raise ValueError(f"{fasta.filename}, sequence {chrom!r}: {err}") from None


def write_chrom_sizes(fasta_path, out):
    """Write ``NAME<TAB>LENGTH`` lines of a FASTA's sequences in ``.fai`` order to ``out``
    (atomically): a ``.chrom.sizes`` file, which IGV opens as a genome without sequence."""
    fasta = open_fasta(fasta_path)
    try:
        lines = "".join(f"{name}\t{length}\n" for name, length in chrom_sizes(fasta))
    finally:
        fasta.close()
    with atomic_path(out) as tmp:
        Path(tmp).write_text(lines)
    return Path(out)


def write_fasta(path, records, width=60):
    """Write ``{name: str or tokens}`` to ``path`` atomically and index it."""
    from .encoding import decode

    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        for name, seq in records.items():
            if not isinstance(seq, str):
                seq = decode(np.asarray(seq))
            fh.write(f">{name}\n")
            for i in range(0, len(seq), width):
                fh.write(seq[i : i + width] + "\n")
    pyfaidx.Faidx(str(path), rebuild=True).close()
    return path
