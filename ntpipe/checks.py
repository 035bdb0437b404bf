"""Checks of the input files that are cheap to make before any job runs.

The workflow calls :func:`check_inputs` when it starts (``common.smk``), after
the sheets are validated, so a bad input stops ``snakemake`` (and
``snakemake -n``) with one message naming the file, the line or column, the
value and what was expected, instead of failing in a job after hours of
training. What is read:

- every FASTA's ``.fai`` (built by pyfaidx when missing or older than the
  FASTA, as the jobs would): the FASTA is indexable and not empty, and the
  first bases of its first records are DNA letters;
- every VCF's header (pysam): the samples of the varieties and of the
  reference-mapped cultivars (training rows with ``vcf``) are in it, its contigs
  are in the reference with the same lengths (with ``chrom_aliases``, under
  the reference's name in another naming: ``chr01`` for ``Chr1``);
- every BAM's or CRAM's header (pysam): its references are in the genome (the
  reference, for a ``vcf`` row) with the same lengths (with ``chrom_aliases``,
  under another naming; contigs the genome lacks, such as ``ChrC``, skipped
  with a warning), it is indexed, and one record decodes against the genome;
- every peaks file, one pass (:mod:`ntpipe.peaks`): BED lines, valid
  intervals, some peaks on the genome's (the reference's, for a ``vcf`` row)
  chromosomes (with ``chrom_aliases``, under another naming); peaks past a
  chromosome end (clipped) and off the genome (skipped) are warnings;
- the ``annotation`` GFF3, one pass: GFF3 lines, chromosomes in the
  reference (``chrom_aliases`` honoured, an ambiguous match an error),
  features inside their chromosome, gene features present;
- the split chromosomes (``split.valid_chroms``, ``split.test_chroms``) are
  in every cultivar genome and leave at least one chromosome to train on, and
  each mark whose labels all come from peaks files has a peak on each part and
  on a chromosome left to train on (a hold-out run with nothing marked there
  could be neither stopped, scored nor trained).

A chromosome that the genome holds under another naming gets a hint in the
message (:mod:`ntpipe.chroms`). Files that do not exist yet are skipped when a workflow rule makes them (the
simulated demo, ``buildable_dir``) and are checked once they exist.

Peaks and annotation passes are the only part that grows with the data (one pass per file,
about a second per million lines); a file that passed is remembered in a
small cache (``cache``: path, size and modification time) and not read again
until it changes.
"""

import contextlib
import json
import logging
import os
from pathlib import Path

from .alignments import SKIPPED, check_decodes, genome_contigs, open_alignments
from .chroms import chrom_key, listed, match, other_naming
from .encoding import encode
from .files import header_line
from .genome import chrom_sizes, open_fasta

__all__ = ["check_inputs", "fasta_sizes", "check_peaks", "check_bam", "check_vcf", "check_split", "check_marked_split",
           "check_annotation"]

log = logging.getLogger(__name__)


SNIFF_RECORDS, SNIFF_BASES = 5, 1000  # the FASTA letters read at start-up: the first bases of the first records


def fasta_sizes(path):
    """``{name: length}`` of a FASTA in ``.fai`` order; builds the index when missing.

    The first :data:`SNIFF_BASES` bases of its first :data:`SNIFF_RECORDS`
    records are read: a file of another kind (protein, text) fails here, not in
    a job after training (a stray letter deeper in fails the job that encodes it).

    Raises
    ------
    ValueError naming the FASTA when it cannot be indexed, holds no sequence
    or a letter that is not a base.
    """
    try:
        fasta = open_fasta(path)
    except FileNotFoundError as err:
        raise ValueError(str(err)) from None
    try:
        sizes = dict(chrom_sizes(fasta))
        for name in list(sizes)[:SNIFF_RECORDS]:
            try:
                encode(fasta[name][: min(SNIFF_BASES, sizes[name])].seq)  # no slice past the end: bgzip refuses it
            except ValueError as err:
                raise ValueError(f"{path}, sequence {name!r}: {err}: is it a DNA FASTA?") from None
    finally:
        fasta.close()
    if not sizes:
        raise ValueError(f"{path}: no sequences found (empty FASTA); expected at least one '>name' record")
    empty = [name for name, length in sizes.items() if length == 0]
    if empty:
        raise ValueError(f"{path}: sequence {empty[0]!r} is empty (a '>' header with no sequence"
                         f"{f'; {len(empty)} such records' if len(empty) > 1 else ''}); remove it: a track cannot hold it")
    return sizes


def check_peaks(path, sizes, genome, aliases=False):
    """One pass over a peaks file against its genome (:func:`ntpipe.peaks.scan_peaks`).

    Returns ``{"notes": peaks clipped at a chromosome end or skipped off the
    genome, "chroms": the chromosomes its peaks lie on}`` (JSON, for the
    check cache and :func:`check_marked_split`); raises ValueError naming the
    file, line, column and value.
    """
    from .peaks import scan_peaks

    peaks, notes = scan_peaks(path, sizes, genome, aliases)
    return {"notes": notes, "chroms": sorted(peaks)}


def check_marked_split(marked, split, where, aliases=False):
    """Each mark has a peak on the split's validation and test chromosomes, and one on a chromosome left to train on.

    ``marked``: ``{mark: chromosomes its peaks files put a peak on}``, None for a
    mark with a row whose peaks are not known yet (a BAM's are called later).
    ``where`` names the training sheet.
    """
    key = chrom_key(aliases)
    held_out = {key(c) for part in ("valid_chroms", "test_chroms") for c in split[part]}
    for mark, chroms in sorted(marked.items()):
        if chroms is None:
            continue
        keys = {key(c) for c in chroms}
        for part, use in (("valid_chroms", "stop the hold-out run"), ("test_chroms", "score the hold-out model")):
            if not any(key(c) in keys for c in split[part]):
                raise ValueError(
                    f"config split.{part}: no cultivar of {where} has a {mark} peak on {', '.join(split[part])}, so"
                    f" nothing there would {use}; expected chromosomes holding some of its peaks (they lie on"
                    f" {listed(sorted(chroms))})")
        if not keys - held_out:
            raise ValueError(
                f"config split: every {mark} peak of {where} lies on the held-out chromosomes ({listed(sorted(chroms))}),"
                " so the hold-out run would have nothing marked to train on; expected a chromosome with its peaks left to"
                " train on")


def _check_index_age(path, suffixes, fix):
    """An index older than its file (the file rewritten under the same name
    after indexing) would hide the records it does not know: an error."""
    path = Path(path)
    for index in [Path(f"{path}{suffix}") for suffix in suffixes] + [path.with_suffix(suffixes[0])]:
        if index.is_file() and index.stat().st_mtime < path.stat().st_mtime:
            raise ValueError(f"{path}: its index {index} is older than the file (rewritten after indexing?); reading"
                             f" through it would miss what the old index lacks: re-index it ({fix} {path})")


def check_bam(path, sizes, genome, aliases=False):
    """A BAM's or CRAM's header against its genome; indexed; its records readable.

    Contigs the genome lacks (``ChrC``, ``ChrM``) are skipped with a warning;
    every other reference must be the genome's, with its length. With
    ``aliases``, under another naming (:func:`ntpipe.chroms.match`);
    ambiguous ones are an error. A CRAM is decoded against ``genome``: one
    record is read, so a CRAM that the genome does not decode fails here.

    Returns the notes of references skipped (the genome lacks them); raises
    ValueError naming the file, its ``@SQ`` header line, the name or length,
    and the genome's (:func:`ntpipe.alignments.genome_contigs`), and for a
    BAM whose index counts no mapped read on the genome's chromosomes.
    """
    try:
        aln = open_alignments(path, genome)
    except FileNotFoundError as err:
        raise ValueError(str(err)) from None
    try:
        contigs, notes = genome_contigs(path, aln, sizes, genome, aliases)
        check_decodes(path, aln, contigs.values())
        if not aln.is_cram:
            notes += _unread_chromosomes(path, aln, contigs, sizes)
        index = (".crai",) if aln.is_cram else (".bai", ".csi")
    finally:
        with contextlib.suppress(OSError):  # htslib may fail again closing a file it failed to read
            aln.close()
    _check_index_age(path, index, "samtools index")
    return notes


def _unread_chromosomes(path, aln, contigs, sizes):
    """A note naming the genome's chromosomes where a BAM's index counts no mapped read (where some were to be
    expected: a BAM filtered to part of the genome); ValueError where it counts none at all."""
    mapped = {s.contig: s.mapped for s in aln.get_index_statistics()}
    reads = {chrom: mapped.get(ref, 0) for chrom, ref in contigs.items()}
    total = sum(reads.values())
    if not total:
        raise ValueError(f"{path}: no mapped read on the genome's chromosomes (its index counts none); expected"
                         " the ChIP-seq or control reads aligned to the row's genome")
    length = sum(sizes[c] for c in contigs)
    unread = [c for c in sizes if not reads.get(c) and total * sizes[c] / length >= 10]
    if not unread:
        return []
    return [f"{path}: no mapped read on {listed(unread)} (its index): a ChIP file's chromosomes without reads are"
            " left out of its mark's training, a control's get the ChIP's genome-wide rate"]


def check_vcf(path, reference_sizes, reference, wanted, aliases=False):
    """A VCF's header: the wanted samples are in it, its contigs in the reference.

    Parameters
    ----------
    path : bgzipped VCF (or BCF).
    reference_sizes : ``{chrom: length}`` of the reference (:func:`fasta_sizes`).
    reference : the reference's path, for messages.
    wanted : list of ``(where, sample)``: ``where`` names the sheet line asking
        for it; ``sample`` None or "" for a single-sample VCF.
    aliases : contigs may be the reference's under another naming
        (``chr01`` for ``Chr1``, :func:`ntpipe.chroms.match`); ambiguous ones are an error.

    Raises
    ------
    ValueError naming the sheet line and sample, or the VCF's header line,
    contig and length, and what was expected; or a VCF without an index.
    """
    from .variants import open_variant_file

    with open_variant_file(path) as vcf:
        samples = list(vcf.header.samples)
        present = set(samples)
        for where, sample in wanted:
            if sample and sample not in present:
                raise ValueError(
                    f"{where}, column 'sample': {sample!r} is not a sample of {path}"
                    f" (its header has {len(samples)}: {listed(samples) or 'none'})"
                )
            if not sample and len(samples) != 1:
                raise ValueError(
                    f"{where}, column 'sample': empty, but {path} has {len(samples)} samples"
                    f" ({listed(samples) or 'none'}); expected exactly one, or name the sample to use"
                )
        if vcf.index is None:  # extract_variants reads it a chromosome at a time
            raise ValueError(f"{path}: has no index; expected a bgzipped VCF with a .tbi or .csi index"
                             f" (bgzip the VCF, then tabix -p vcf or bcftools index), or an indexed BCF")
        _check_index_age(path, (".tbi", ".csi"), "tabix -f -p vcf" if not str(path).endswith(".bcf") else "bcftools index -f")
        names = {c.name: c.name for c in vcf.header.contigs.values()}
        if aliases:
            try:
                names = match(names, reference_sizes)
            except ValueError as err:
                raise ValueError(f"{path}: {err} (chrom_aliases: true); expected one reference name per contig") from None
        for contig in vcf.header.contigs.values():
            ref_name = names.get(contig.name, contig.name)
            if ref_name in reference_sizes and contig.length in (None, reference_sizes[ref_name]):
                continue
            if ref_name not in reference_sizes and not _has_records(vcf, contig.name):
                continue  # declared only (ChrC, ChrM beside a nuclear reference): nothing to apply there
            text = str(vcf.header)
            line = header_line(text, f"##contig=<ID={contig.name},", f"##contig=<ID={contig.name}>")
            where = f"{path}, header line {line}" if line else str(path)
            if ref_name not in reference_sizes:
                raise ValueError(
                    f"{where}: contig {contig.name!r} is not in the reference {reference}"
                    f" (its .fai names {listed(reference_sizes)})"
                    + other_naming(contig.name, reference_sizes, "set chrom_aliases: true in the config to match it")
                )
            raise ValueError(
                f"{where}: contig {contig.name!r} is {contig.length} bp long; in the reference {reference}"
                f" {ref_name!r} is {reference_sizes[ref_name]} bp (called against another assembly?)"
            )


def _has_records(vcf, contig):
    """True when the indexed VCF ``vcf`` (pysam.VariantFile) holds a record on ``contig``."""
    try:
        return next(vcf.fetch(contig), None) is not None
    except ValueError:  # not in the index: no records
        return False


def check_annotation(path, reference_sizes, aliases=False):
    """One pass over the ``annotation`` GFF3 against the reference (:func:`ntpipe.annotation.scan_genes`).

    Returns the notes of chromosomes the reference lacks (their features
    skipped); raises ValueError naming the config key, the file, line and value.
    """
    from .annotation import scan_genes

    try:
        return scan_genes(path, reference_sizes, aliases=aliases)[1]
    except ValueError as err:
        raise ValueError(f"config annotation: {err}") from None


def check_split(genomes, valid_chroms, test_chroms, aliases=False):
    """The hold-out chromosomes are in every cultivar genome and leave some to train on.

    Parameters
    ----------
    genomes : ``{where: (genome path, {chrom: length})}``, ``where`` naming
        the sheet line of the cultivar.
    valid_chroms, test_chroms : the config's ``split`` lists.
    aliases : a chromosome may be a genome's under another naming (``chr11``
        for ``Chr11``, :func:`ntpipe.chroms.canonical`).
    """
    key = chrom_key(aliases)
    both = sorted(c for c in valid_chroms if key(c) in {key(t) for t in test_chroms})
    if both:
        raise ValueError(f"config split: {both} are both in valid_chroms and test_chroms; expected separate chromosomes")
    held_out = {key(c) for c in [*valid_chroms, *test_chroms]}
    for where, (genome, sizes) in genomes.items():
        keys = {key(c) for c in sizes}
        for name, chroms in (("valid_chroms", valid_chroms), ("test_chroms", test_chroms)):
            missing = [c for c in chroms if key(c) not in keys]
            if missing:
                hint = other_naming(missing[0], sizes, "set chrom_aliases: true in the config to match it")
                raise ValueError(
                    f"config split.{name}: {missing[0]!r} is not a chromosome of {genome} ({where});"
                    f" its .fai names {listed(sizes)}"
                    + (hint or "; name your genome's held-out chromosomes in the config's split, e.g."
                       " --config 'split={valid_chroms: [A], test_chroms: [B, C]}'")
                )
        if not keys - held_out:
            raise ValueError(
                f"config split: valid_chroms {list(valid_chroms)} and test_chroms {list(test_chroms)} hold out every"
                f" chromosome of {genome} ({where}); expected at least one left to train on"
            )


class _Cache:
    """Checks that passed, keyed by kind and the (path, size, mtime) of each file they read."""

    def __init__(self, path):
        self.path = Path(path) if path else None
        self.done = {}  # key -> the check's warnings
        if self.path and self.path.is_file():
            try:
                done = json.loads(self.path.read_text())
                self.done = done if isinstance(done, dict) else {}
            except (OSError, ValueError):
                self.done = {}
        self.new = {}  # the checks of this run that passed

    @staticmethod
    def key(kind, *files):
        stats = [(str(Path(f).resolve()), os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files]
        return json.dumps([kind, stats])

    def run(self, kind, files, check, *args):
        """``check(*args)``'s result (JSON: warnings), remembered: the same when it passed before on the same files."""
        key = self.key(kind, *files)
        self.new[key] = self.done[key] if key in self.done else check(*args)
        return self.new[key]

    def save(self):
        """Keep the checks of this run only (files changed or gone drop out)."""
        if not self.path or self.new == self.done:
            return
        from .files import atomic_path

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps(self.new, sort_keys=True))


def _rows(sheet):
    """``(file line, row dict)`` of a sheet indexed by file line."""
    return zip(sheet.index, sheet.to_dict("records"))


def check_inputs(config, samples, varieties, samples_path="samples", varieties_path="varieties",
                 buildable_dir=None, cache=None):
    """Check every input file the sheets and config name (see the module doc).

    Parameters
    ----------
    config : the validated config (``reference``, ``split``, ``chrom_aliases``).
    samples, varieties : the sheets from :func:`ntpipe.sheets.load_training_sheet`
        and :func:`ntpipe.sheets.load_varieties_sheet` (indexed by file line).
    samples_path, varieties_path : the sheets' paths, for messages.
    buildable_dir : files under this folder that do not exist yet are made by
        a workflow rule (the demo) and skipped.
    cache : JSON file remembering the checks that passed (None: no cache).

    Returns
    -------
    Warnings to show: peaks clipped or skipped (:mod:`ntpipe.peaks`), BAM
    references skipped; a check that passed before on the same files is not
    run again, its warnings are remembered with it.

    Raises
    ------
    ValueError with the first problem found.
    """
    store = _Cache(cache)
    warnings = []

    def pending(f):
        """True when ``f`` is missing and a rule makes it."""
        return not Path(f).exists() and buildable_dir is not None and Path(buildable_dir) in Path(f).parents

    sizes = {}

    def genome_sizes(f):
        if f not in sizes:
            sizes[f] = fasta_sizes(f)
        return sizes[f]

    reference = config["reference"]
    aliases = config.get("chrom_aliases", False)
    vcf_rows = [(varieties_path, line, row) for line, row in _rows(varieties) if row.get("vcf")]
    vcf_rows += [(samples_path, line, row) for line, row in _rows(samples) if row.get("vcf")]
    if not Path(reference).exists() and not pending(reference):
        raise ValueError(f"config reference: file not found: {reference}")
    if not pending(reference):
        genome_sizes(reference)

    genomes = {}  # cultivar rows' genomes, for the split
    for line, row in _rows(samples):
        genome = row.get("genome") or reference
        if pending(genome):
            continue
        where = f"{samples_path}, line {line}"
        genomes.setdefault(genome, (where, genome_sizes(genome)))
    for line, row in _rows(varieties):
        if row.get("genome") and not pending(row["genome"]):
            genome_sizes(row["genome"])
    check_split({where: (g, s) for g, (where, s) in genomes.items()},
                config["split"]["valid_chroms"], config["split"]["test_chroms"], aliases=aliases)

    marked = {}  # mark -> the chromosomes its peaks lie on; None once a row's peaks are not known here
    alignments = {}  # (BAM, genome) -> notes: a control of several marks' rows is checked once
    for line, row in _rows(samples):
        genome = row.get("genome") or reference
        peaks = row.get("peaks")
        readable = bool(peaks) and not pending(peaks) and not pending(genome)  # a BAM row's peaks come later
        if not readable:
            marked[row["mark"]] = None
        if pending(genome):
            continue
        if readable:
            found = store.run("peaks and chroms" + (" aliases" if aliases else ""), [peaks, genome], check_peaks,
                              peaks, genome_sizes(genome), genome, aliases)
            warnings += found["notes"]
            if marked.setdefault(row["mark"], set()) is not None:
                marked[row["mark"]].update(found["chroms"])
        for col in ("bam", "control"):
            if row.get(col) and not pending(row[col]) and (row[col], genome) not in alignments:
                alignments[row[col], genome] = check_bam(row[col], genome_sizes(genome), genome, aliases)
    notes = [note for notes in alignments.values() for note in notes]
    skipped = [note for note in notes if SKIPPED in note]  # organelles, as a rule: one line for many files
    warnings += [note for note in notes if SKIPPED not in note]
    warnings += skipped if len(skipped) <= 3 else [f"{len(skipped)} BAM/CRAM files hold references their genome lacks,"
                                                   f" {SKIPPED}; the first: {skipped[0]}"]

    by_vcf = {}
    for sheet, line, row in vcf_rows:
        by_vcf.setdefault(row["vcf"], []).append((f"{sheet}, line {line}", row.get("sample") or ""))
    if by_vcf and not pending(reference):
        for vcf, wanted in by_vcf.items():
            if not pending(vcf):
                check_vcf(vcf, genome_sizes(reference), reference, wanted, aliases=aliases)
    annotation = config.get("annotation")
    if annotation and not pending(annotation):
        if not Path(annotation).is_file():
            raise ValueError(f"config annotation: file not found: {annotation}")
        if not pending(reference):
            warnings += store.run(f"annotation aliases={aliases}", [annotation, reference], check_annotation, annotation,
                                  genome_sizes(reference), aliases)
    check_marked_split(marked, config["split"], samples_path, aliases)
    store.save()
    return warnings
