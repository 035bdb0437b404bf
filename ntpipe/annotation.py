"""Genes of a GFF3 annotation on the reference: read, nearest gene, IGV copy.

The annotation (config ``annotation``) is a GFF3 file, plain or gzipped, on
the reference's coordinates. Its chromosome names must be the reference's, or
with ``chrom_aliases`` the reference's under another naming (``chr01`` for
``Chr1``, :func:`ntpipe.chroms.match`; each rename is logged).

Genes are the features of type ``gene`` or a ``*_gene`` subtype
(``protein_coding_gene``, ``ncRNA_gene``): every GFF3 that the rice
databases publish (RAP-DB, MSU, Ensembl Plants) has them. A file without any
is an error naming the types it holds, rather than a silent fallback to
transcripts, whose many isoforms would each count as a gene.

Coordinates here are 0-based half-open (GFF3's 1-based closed ``start`` is
``start - 1``; ``end`` is the same number).
"""

import logging
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd

from .chroms import listed, match, other_naming
from .files import atomic_path, text_lines

__all__ = ["read_genes", "scan_genes", "nearest_genes", "write_indexed_gff3"]

log = logging.getLogger(__name__)

COLUMNS = ["chrom", "start", "end", "strand", "gene_id", "name"]


def _is_gene(feature_type):
    return feature_type == "gene" or feature_type.endswith("_gene")


def _features(path):
    """``(line number, fields, start0, end)`` of every feature line of a GFF3 file.

    Raises ValueError naming the file and line for a line without 9 columns,
    non-integer coordinates, a start below 1 or an end before the start.
    """
    for lineno, line in text_lines(path, "GFF3 text"):
        if line.startswith("##FASTA") or line.startswith(">"):
            return
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) != 9:
            raise ValueError(
                f"{path}, line {lineno}: expected 9 tab-separated GFF3 columns, got {len(fields)}: {line.strip()[:80]!r}"
            )
        try:
            start, end = int(fields[3]), int(fields[4])
        except ValueError:
            raise ValueError(
                f"{path}, line {lineno}, columns 4-5: start {fields[3]!r} and end {fields[4]!r} must be integers"
            ) from None
        if start < 1 or end < start:
            raise ValueError(
                f"{path}, line {lineno}, columns 4-5: start {start} and end {end} are not a GFF3 interval"
                " (1 <= start <= end, 1-based, closed)"
            )
        yield lineno, fields, start - 1, end


def _attributes(text):
    out = {}
    for item in text.split(";"):
        key, sep, value = item.strip().partition("=")
        if sep:
            out[unquote(key)] = unquote(value)
    return out


def _rename(path, first_lines, chrom_names, aliases):
    """``({seqid: reference name}, notes)`` for the file's seqids (``{seqid: first line}``) the reference holds.

    Seqids it lacks (``ChrC``, ``ChrSy`` beside a nuclear reference) are left
    out, said in a note; none of them held is a ValueError naming the file,
    the first line, and the fix.
    """
    if chrom_names is None:
        return {c: c for c in first_lines}, []
    names = list(chrom_names)
    if aliases:
        try:
            mapping = match(first_lines, names)
        except ValueError as err:
            raise ValueError(f"{path}: {err} (chrom_aliases: true); expected one reference name per chromosome") from None
    else:
        present = set(names)
        mapping = {c: c for c in first_lines if c in present}
    notes = []
    absent = {seqid: lineno for seqid, lineno in first_lines.items() if seqid not in mapping}
    if absent:
        seqid, lineno = next(iter(absent.items()))
        message = (f"{path}, line {lineno}, column 1: chromosome {seqid!r} is not in the reference"
                   f" (its .fai names {listed(names)})"
                   f"{'' if aliases else other_naming(seqid, names, 'set chrom_aliases: true')}")
        if not mapping:
            raise ValueError(message + ", nor is any other of the file's")
        notes.append(f"{message}; its features are skipped, as are those of the file's other chromosomes the reference"
                     f" lacks ({len(absent)} of {len(first_lines)}: {listed(absent)})")
    for seqid, name in mapping.items():
        if name != seqid:
            log.info("%s: chromosome %r is the reference's %r", path, seqid, name)
    return mapping, notes


def _read(path, chrom_names, aliases):
    """Every feature line on the reference's chromosomes, renamed to them and checked against their lengths,
    and the notes of those skipped (:func:`_rename`)."""
    rows, first = [], {}
    for lineno, fields, start, end in _features(path):
        first.setdefault(fields[0], lineno)
        rows.append((lineno, fields, start, end))
    mapping, notes = _rename(path, first, chrom_names, aliases)
    rows = [row for row in rows if row[1][0] in mapping]
    sizes = chrom_names if isinstance(chrom_names, dict) else {}
    for lineno, fields, _, end in rows:
        fields[0] = mapping[fields[0]]
        if fields[0] in sizes and end > sizes[fields[0]]:
            raise ValueError(
                f"{path}, line {lineno}, column 5: end {end} is past the end of {fields[0]} ({sizes[fields[0]]} bp)"
            )
    return rows, notes


def read_genes(path, chrom_names=None, aliases=False):
    """The genes of a GFF3 annotation (:func:`scan_genes`), its notes logged as warnings."""
    genes, notes = scan_genes(path, chrom_names, aliases)
    for note in notes:
        log.warning(note)
    return genes


def scan_genes(path, chrom_names=None, aliases=False):
    """The genes of a GFF3 annotation (plain or gzipped), sorted, and notes of what was skipped.

    Parameters
    ----------
    path : GFF3 file.
    chrom_names : the reference's chromosome names (``.fai`` order), or
        ``{name: length}`` to also check that every feature ends inside its
        chromosome; None accepts any name.
    aliases : match the file's names to ``chrom_names`` across namings
        (:func:`ntpipe.chroms.match`); the genes carry the reference's names.

    Returns
    -------
    ``(genes, notes)``: a DataFrame with columns ``chrom``, ``start``
    (0-based), ``end`` (half-open), ``strand``, ``gene_id`` (``ID``, else
    ``Name``, else ``chrom:start-end``), ``name`` (``Name``, else the id),
    sorted by chrom (``chrom_names`` order, else the file's) and start; a list
    of str, the file's chromosomes the reference lacks (their features skipped).

    Raises
    ------
    ValueError naming the file and line: a malformed line, no chromosome in
    ``chrom_names`` (features on the file's other chromosomes are skipped,
    with a warning), a feature past its chromosome's end; or a file without
    gene features.
    """
    rows, notes = _read(path, chrom_names, aliases)
    genes = []
    for _, fields, start, end in rows:
        if _is_gene(fields[2]):
            attrs = _attributes(fields[8])
            gene_id = attrs.get("ID") or attrs.get("Name") or f"{fields[0]}:{start + 1}-{end}"
            genes.append((fields[0], start, end, fields[6], gene_id, attrs.get("Name") or gene_id))
    if not genes:
        types = Counter(fields[2] for _, fields, _, _ in rows)
        raise ValueError(
            f"{path}: no features of type 'gene' (or '*_gene'); its types are "
            f"{', '.join(f'{t} ({n})' for t, n in types.most_common(8)) or 'none'}"
        )
    frame = pd.DataFrame(genes, columns=COLUMNS).astype({"start": "int64", "end": "int64"})
    order = list(chrom_names) if chrom_names is not None else list(dict.fromkeys(frame["chrom"]))
    rank = frame["chrom"].map({c: i for i, c in enumerate(order)})
    frame = frame.assign(_rank=rank).sort_values(["_rank", "start", "end", "gene_id"], kind="stable")
    return frame.drop(columns="_rank").reset_index(drop=True), notes


def nearest_genes(genes, chrom, positions):
    """The nearest gene of each 0-based position on one chromosome.

    The distance is in bp to the gene's nearest base, unsigned: 0 inside a
    gene, 1 next to it. Among equally near genes the one starting first wins;
    inside overlapping genes, the one reaching furthest. The gene's strand
    and TSS (which side is upstream) are in ``genes``, by ``gene_id``.

    Parameters
    ----------
    genes : :func:`read_genes` frame.
    chrom : chromosome name.
    positions : integer array of 0-based positions.

    Returns
    -------
    ``(gene_ids, distances)``: an object array of ids and an int64 array;
    ``""`` and -1 where the chromosome has no genes.
    """
    positions = np.asarray(positions, dtype=np.int64)
    on = genes[genes["chrom"] == chrom].sort_values("start", kind="stable")
    if on.empty:
        return np.full(positions.shape, "", dtype=object), np.full(positions.shape, -1, dtype=np.int64)
    starts, ends = on["start"].to_numpy(np.int64), on["end"].to_numpy(np.int64)
    ids = on["gene_id"].to_numpy(object)
    # the gene reaching furthest among those starting at or before each gene
    reach = np.maximum.accumulate(ends)
    furthest = np.flatnonzero(np.r_[True, ends[1:] > reach[:-1]])
    furthest = furthest[np.searchsorted(furthest, np.arange(len(ends)), side="right") - 1]

    left = np.searchsorted(starts, positions, side="right") - 1  # last gene starting at or before p
    has_left = left >= 0
    li = furthest[np.maximum(left, 0)]
    left_dist = np.where(has_left, np.maximum(positions - ends[li] + 1, 0), np.iinfo(np.int64).max)
    right = left + 1  # first gene starting after p
    has_right = right < len(starts)
    ri = np.minimum(right, len(starts) - 1)
    right_dist = np.where(has_right, starts[ri] - positions, np.iinfo(np.int64).max)

    use_left = left_dist <= right_dist
    return np.where(use_left, ids[li], ids[ri]), np.where(use_left, left_dist, right_dist).astype(np.int64)


def write_indexed_gff3(path, out, chrom_names, aliases=False):
    """A sorted, bgzipped, tabix-indexed copy of a GFF3 on the reference's names, for IGV.

    IGV reads a GFF3 whole unless it is bgzipped, sorted and indexed
    (``.gff3.gz`` + ``.tbi``); this copy is, and names chromosomes as the
    reference does (the file's own names may be another naming with
    ``aliases``). Directives and comments are dropped but ``##gff-version``.

    Parameters
    ----------
    path : the annotation (plain or gzipped GFF3).
    out : output path ending in ``.gff3.gz``; its index is ``out + ".tbi"``.
    chrom_names, aliases : as for :func:`read_genes`.

    Returns
    -------
    Path of the copy.
    """
    import pysam

    out = Path(out)
    if not out.name.endswith(".gff3.gz"):
        raise ValueError(f"indexed GFF3 copy must end in .gff3.gz, got {out}")
    rows, notes = _read(path, chrom_names, aliases)
    for note in notes:
        log.warning(note)
    order = {c: i for i, c in enumerate(chrom_names or dict.fromkeys(f[0] for _, f, _, _ in rows))}
    rows.sort(key=lambda r: (order[r[1][0]], r[2], r[0]))
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out, suffix=".gff3.gz") as tmp:
        with pysam.BGZFile(str(tmp), "wb") as fh:
            fh.write(b"##gff-version 3\n")
            fh.write("".join("\t".join(fields) + "\n" for _, fields, _, _ in rows).encode())
        pysam.tabix_index(str(tmp), preset="gff", force=True)
        Path(f"{tmp}.tbi").replace(f"{out}.tbi")
    log.info("wrote %s (%d features, indexed)", out, len(rows))
    return out
