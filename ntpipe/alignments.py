"""ChIP-seq alignments (BAM or CRAM, through pysam): which reads count, and where.

A file is opened against the FASTA it was aligned to, so a CRAM decodes
without the reference named in its header (often a path on another machine).
Its references are paired with the genome's chromosomes: contigs the genome
lacks (organelles, ``ChrC`` and ``ChrM``, in an aligner's index but not in a
nuclear-only FASTA) are skipped with a warning; a reference that is the
genome's under another naming, or of another length, is an error.

Reads that count, by their 5' end (as MACS2 reads a BAM, and a MAPQ filter):

- mapped, primary (not secondary or supplementary), not QC-fail (0x200), not
  marked duplicate (0x400);
- mapping quality at least ``min_mapq``: multi-mappers, which BWA gives MAPQ
  0 and bowtie2 0 or 1 (rice is about 35% transposons), do not count;
- of paired reads, read 1 of a proper pair only: a fragment counts once;
- one read per 5' position and strand (MACS2's ``--keep-dup 1``): PCR
  duplicates that were not marked count once.
"""

from pathlib import Path

import numpy as np

from .chroms import Matcher, listed, other_naming
from .files import header_line

__all__ = ["open_alignments", "genome_contigs", "check_decodes", "read_starts"]

_SKIP = 0x4 | 0x100 | 0x200 | 0x400 | 0x800  # unmapped, secondary, QC-fail, duplicate, supplementary
SKIPPED = "skipped, their reads not counted"  # what a note of references the genome lacks says


def open_alignments(path, fasta=None):
    """Open an indexed BAM or CRAM (a CRAM decoded against ``fasta``).

    Raises
    ------
    FileNotFoundError; ValueError naming the file when it is not BAM or CRAM,
    not sorted by coordinate (its ``@HD`` line says otherwise) or has no index.
    """
    import pysam

    if not Path(path).is_file():
        raise FileNotFoundError(f"alignments not found: {path}")
    try:
        aln = pysam.AlignmentFile(str(path), "r", reference_filename=str(fasta) if fasta else None)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read as BAM or CRAM: {err}") from None
    if not (aln.is_bam or aln.is_cram):
        aln.close()
        raise ValueError(f"{path}: not BAM or CRAM (a SAM file? convert and index it: samtools sort -o x.bam {path})")
    order = aln.header.to_dict().get("HD", {}).get("SO", "unknown")  # @HD SO: the sort order it declares
    if order in ("unsorted", "queryname") or (order != "coordinate" and not aln.has_index()):
        aln.close()
        said = f"its header says SO:{order}" if order != "unknown" else "its header does not say how it is sorted"
        raise ValueError(f"{path}: {said}, and a file read by region must be sorted by coordinate and indexed"
                         f" (samtools sort -o sorted.bam {path} && samtools index sorted.bam)")
    if not aln.has_index():
        index = ".crai" if aln.is_cram else ".bai"
        aln.close()
        raise ValueError(f"{path}: {'CRAM' if index == '.crai' else 'BAM'} has no index; expected {path}{index}"
                         f" (run samtools index {path})")
    return aln


def _where(path, aln, name):
    """``path`` and the header line of ``name``'s ``@SQ`` record, for a message."""
    line = header_line(str(aln.header), f"@SQ\tSN:{name}\t")
    return str(path) if line is None else f"{path}, header line {line}"


def _mapped(aln, names):
    """``{name: mapped reads}`` from the index (BAM), or {} where it cannot tell (CRAM)."""
    if aln.is_cram:
        return {}
    return {s.contig: s.mapped for s in aln.get_index_statistics() if s.contig in names}


def genome_contigs(path, aln, sizes, genome, aliases=False):
    """Pair the file's references with the genome's chromosomes.

    Parameters
    ----------
    path : the file, for messages.
    aln : the file opened by :func:`open_alignments`.
    sizes : ``{chrom: length}`` of the genome the reads are aligned to.
    genome : its path, for messages (None: not named).
    aliases : references may be the genome's under another naming
        (:class:`ntpipe.chroms.Matcher`).

    Returns
    -------
    ``({chrom: reference}``, the genome's names to the file's, for each
    reference the genome holds; notes: a list holding the warning that names
    the others, skipped (and, for a BAM, their mapped reads), when there are any).

    Raises
    ------
    ValueError naming the file and its ``@SQ`` header line: an ambiguous name,
    a reference that is the genome's under another naming (without
    ``aliases``) or of another length, or no reference in the genome at all.
    """
    names = Matcher(sizes, aliases)
    the_genome = f"the genome {genome}" if genome else "the genome"
    pairs, skipped = {}, []
    for name, length in zip(aln.references, aln.lengths):
        try:
            chrom = names(name)
        except ValueError as err:
            raise ValueError(f"{path}: {err} (chrom_aliases: true); expected one genome name per reference") from None
        if chrom is None:
            hint = other_naming(name, sizes, "set chrom_aliases: true in the config to match it, or align to"
                                " the genome, or rename the file's references (samtools reheader)")
            if hint:
                raise ValueError(f"{_where(path, aln, name)}: reference {name!r} is not in {the_genome}"
                                 f" (its .fai names {listed(sizes)}){hint}")
            skipped.append(name)
        elif length != sizes[chrom]:
            raise ValueError(
                f"{_where(path, aln, name)}: reference {name!r} is {length} bp long; in {the_genome}"
                f" {'it' if chrom == name else repr(chrom)} is {sizes[chrom]} bp (aligned to another assembly?)"
            )
        else:
            pairs[chrom] = name
    if not pairs:
        raise ValueError(f"{path}: none of its references ({listed(aln.references) or 'none'}) is in"
                         f" {the_genome} (its .fai names {listed(sizes)}); aligned to another assembly?")
    notes = []
    if skipped:
        mapped = _mapped(aln, skipped)
        reads = f" ({sum(mapped.values()):,} mapped reads)" if mapped else ""
        notes.append(f"{path}: references not in {the_genome} {SKIPPED}{reads}: {listed(skipped)}")
    return pairs, notes


def check_decodes(path, aln, references):
    """Read the first record on ``references``: a CRAM whose FASTA does not
    match, or a truncated file, fails here, naming the file, not deep in a job."""
    try:
        any(next(aln.fetch(ref), None) is not None for ref in references)
    except (OSError, ValueError) as err:
        what = (" (a CRAM decodes only against the FASTA it was aligned to: the row's genome)" if aln.is_cram else
                f" (a truncated file, or an index made for another file? samtools quickcheck {path}; samtools index {path})")
        raise ValueError(f"{path}: cannot read its records: {err}{what}") from None


def read_starts(aln, reference, min_mapq):
    """5' positions of the reads that count on ``reference`` (see module doc),
    one per position and strand: int64 array, sorted."""
    keys = [
        (r.reference_end - 1) * 2 + 1 if r.is_reverse else r.reference_start * 2
        for r in aln.fetch(reference)
        if not r.flag & _SKIP
        and r.mapping_quality >= min_mapq
        and (not r.is_paired or (r.is_proper_pair and r.is_read1))
    ]
    return np.unique(np.asarray(keys, dtype=np.int64)) // 2
