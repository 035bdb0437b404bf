"""Every sample's applied variants of a VCF, extracted once on the CPU, then
memory-mapped one sample at a time by the jobs that predict a variety.

Reading one sample of a multi-sample VCF means parsing every record (pysam:
~69,000 records/s, ``benchmarks/README.md``): ~8 minutes of the 3K panel's
~32 M records per variety, while ``predict_variety`` holds a GPU.
:func:`extract_variants` reads a VCF once for all its samples (one process
per chromosome, through the index); :func:`load_variants` returns one
sample's ``{chrom: Variants}``, equal to
:func:`ntpipe.variants.read_variants`'s, in under a second for a rice genome.

Reading uses cyvcf2 (htslib): ``Variant.genotype.array()`` hands over every
sample's alleles of a record as one int16 array, and the genotype rule is a
few numpy operations over all samples at once. At 3,000 samples extraction
runs at ~7,900 records/s (GT only) and ~2,500 (GT:AD:DP:PL) per process, about
three quarters of cyvcf2's bare parsing loop; pysam gives one Python object
per sample and call (~1,500 records/s here, all samples).

Genotype rule, checks and messages are those of :mod:`ntpipe.variants` (a
GT naming an allele the record lacks counts as missing, as pysam reads it).
Problems of a record, whatever the sample (a REF that is not a sequence or
differs from the reference, a chromosome the reference lacks), fail the
extraction. A sample's calls that cannot be applied (a symbolic allele, a
call that starts before the end of an earlier one) are skipped, counted in ``meta.json`` and logged;
loading that sample warns of them as read_variants does. Every sample is extracted, not only those a
varieties sheet names: a store depends on the VCF and the reference alone, so
adding a variety to the sheet neither re-reads the VCF nor puts the other
varieties' tracks out of date.

The VCF must be bgzipped and indexed (``tabix -p vcf`` or ``bcftools
index``): chromosomes are read in parallel through the index.

Layout (version 1) of a store directory::

    meta.json          the VCF (path, size, mtime), the reference (path, and
                       every chromosome's name and length, .fai order),
                       chrom_aliases, samples, chunk_records B, per
                       chromosome its directory and counts; per sample its
                       first problem. Written last.
    {k}/               the k-th chromosome of the .fai, if it has records:
      pos.npy          int64 (n,)      0-based position of each record
      first_allele.npy int64 (n+1,)    record i's alleles are allele ids
                                       first_allele[i] (REF) .. first_allele[i+1]-1 (ALTs)
      allele_start.npy int64 (m+1,)    allele j is bases[allele_start[j]:allele_start[j+1]]
      bases.npy        uint8           every allele's letters (ASCII), concatenated
      offset.npy       uint16 (e,)     each applied call's record, within its chunk
      allele.npy       uint8 (e,)      its allele index (1 = the first ALT)
      starts.npy       int64 (S+1, c)  sample s's calls in chunk j (records j*B ..
                                       (j+1)*B-1) are offset/allele[starts[s, j]:starts[s+1, j]]

Calls are grouped by chunk of B records, then by sample: extraction streams
(memory follows a chunk, not a chromosome), one sample's calls are one run
per chunk, and a call takes 3 bytes (B <= 65,536). A store is written into
``{name}.{random}.tmp`` beside its path and renamed when complete; a
directory without ``meta.json`` of this version is not a store.
"""

import array
import hashlib
import json
import logging
import multiprocessing
import os
import re
import shutil
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyfaidx

from .encoding import encode
from .genome import chrom_sizes, encode_chrom, open_fasta
from .variants import (
    _ALLELE,
    Variants,
    _contig_names,
    _check_gt_first,
    _overlap_message,
    _pick_sample,
    _ref_mismatch,
    _ref_mismatch_message,
    _shared_ends,
    _symbolic_message,
    _unknown_chrom_message,
    _within,
    log_applied,
    open_variant_file,
    skipped_warning,
    trim_calls,
)

__all__ = ["extract_variants", "load_variants", "store_names"]

log = logging.getLogger(__name__)

FORMAT, VERSION = "ntpipe variants store", 3  # 3: calls trimmed (variants.trim_calls) before the overlap rule
_SYMBOLIC, _SEQUENCE, _STAR = 0, 1, 2  # kinds of allele
CHUNK_RECORDS = 8192


def store_names(vcfs, stores=None):
    """A short file-name-safe name for each VCF path: its file name without
    ``.vcf.gz``/``.bcf`` and a hash of its (normalised) path.

    A VCF's name never depends on the others named beside it: a second
    ``panel.vcf.gz`` from another folder must not rename the first one's store
    (which would re-extract it and re-predict every variety it holds). Under
    ``stores`` (the workflow's ``results/variants``), a store of the file name
    alone that an earlier version made for this VCF (its ``meta.json`` names
    it) keeps that name, so that an upgrade reruns nothing for it.

    Returns ``{vcf: name}``.
    """
    names = {}
    for v in sorted({str(v) for v in vcfs}):
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", re.sub(r"\.(vcf|bcf)(\.b?gz)?$", "", Path(v).name))
        kept = stores is not None and _made_for(Path(stores) / stem, v)
        names[v] = stem if kept else f"{stem}-{hashlib.sha1(os.path.normpath(v).encode()).hexdigest()[:8]}"
    return names


def _made_for(store, vcf):
    """Whether ``store`` is a complete store of this version extracted from ``vcf`` (the path its meta.json records)."""
    try:
        recorded = read_meta(store).get("vcf")
    except (ValueError, AttributeError):  # none, half a file, another version; not a JSON object
        return False
    return isinstance(recorded, str) and os.path.normpath(recorded) == os.path.normpath(vcf)


# --------------------------------------------------------------------------- extraction

def extract_variants(vcf, reference, out, aliases=False, threads=1, chunk_records=CHUNK_RECORDS):
    """Extract every sample's applied variants of ``vcf`` into the store ``out``.

    Parameters
    ----------
    vcf : bgzipped, indexed VCF (or indexed BCF) against ``reference``.
    reference : FASTA path.
    out : the store directory (replaced when complete).
    aliases : match the VCF's chromosome names to the reference's, as
        :func:`ntpipe.variants.read_variants` does.
    threads : chromosomes read at once, each in its own (spawned) process: a
        script calling this with ``threads > 1`` needs the usual
        ``if __name__ == "__main__":`` guard.
    chunk_records : records per chunk, at most 65,536 (see the module docstring).

    Returns
    -------
    The store's path. Raises ValueError for a missing VCF or index, and for
    every problem of a record (the module docstring); a sample's skipped calls
    are counted in the store and logged.
    """
    if not 0 < chunk_records <= 1 << 16:
        raise ValueError(f"chunk_records must be 1 to 65,536 (a call's record is a uint16 within its chunk), got {chunk_records!r}")
    vcf, out = Path(vcf), Path(out)
    stat = vcf.stat() if vcf.is_file() else None  # before reading: a VCF changed meanwhile is out of date
    samples, declared, indexed = _read_header(vcf)
    sizes, to_vcf = _chromosomes(vcf, reference, declared, indexed, aliases)
    tmp = out.with_name(f"{out.name}.{uuid.uuid4().hex}.tmp")
    jobs = [(str(vcf), to_vcf[name], name, str(tmp / str(k)), str(reference), chunk_records)
            for k, (name, _) in enumerate(sizes) if name in to_vcf]
    jobs.sort(key=lambda job: -dict(sizes)[job[2]])  # the longest first: the shortest wait for the last
    tmp.mkdir(parents=True)
    try:
        if threads > 1 and len(jobs) > 1:
            with ProcessPoolExecutor(min(threads, len(jobs)), mp_context=multiprocessing.get_context("spawn")) as pool:
                done = list(pool.map(_extract_chrom, jobs))
        else:
            done = [_extract_chrom(job) for job in jobs]
        meta = _meta(vcf, stat, reference, aliases, chunk_records, samples, sizes, to_vcf, done)
        (tmp / "meta.json").write_text(json.dumps(meta) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("%s: %d samples, %d records extracted into %s", vcf, len(samples), sum(c["records"] for c in meta["chroms"]), out)
    return out


def _read_header(vcf):
    """``(samples, declared contigs, indexed contigs)`` of a VCF that must exist and be indexed."""
    with open_variant_file(vcf) as handle:
        if handle.index is None:
            raise ValueError(f"{vcf}: extracting variants needs an index, to read each chromosome in its own"
                             " process (bgzip + tabix -p vcf, or bcftools index)")
        samples, declared, indexed = list(handle.header.samples), list(handle.header.contigs), list(handle.index)
    if not samples:
        raise ValueError(f"{vcf}: has no samples (a sites-only VCF); expected the varieties' genotypes (GT)")
    return samples, declared, indexed


def _chromosomes(vcf, reference, declared, indexed, aliases):
    """The reference's ``[(name, length)]`` and ``{reference name: VCF name}``
    of the chromosomes with records; a record elsewhere is an error."""
    fasta = open_fasta(reference)
    try:
        to_ref = _contig_names(declared + [c for c in indexed if c not in declared], vcf, fasta, aliases)
        unknown = [c for c in indexed if to_ref.get(c, c) not in fasta]
        for contig in unknown:  # a BCF's index lists every declared contig, with records or not
            pos = _first_pos(vcf, contig)
            if pos is not None:
                raise ValueError(_unknown_chrom_message(f"{vcf}: {contig}:{pos}", contig, fasta))
        return chrom_sizes(fasta), {to_ref.get(c, c): c for c in indexed if c not in unknown}
    finally:
        fasta.close()


def _first_pos(vcf, contig):
    import pysam

    with pysam.VariantFile(str(vcf)) as handle:
        record = next(handle.fetch(contig), None)
    return None if record is None else record.pos


def _meta(vcf, stat, reference, aliases, chunk_records, samples, sizes, to_vcf, done):
    """The store's meta.json (the module docstring); logs each chromosome and the samples with skipped calls."""
    by_name = {d["name"]: d for d in done}
    chroms, skipped = [], {}
    for k, (name, length) in enumerate(sizes):
        d = by_name.get(name, {"records": 0, "calls": 0, "skipped": {}})
        chroms.append({"name": name, "length": length, "vcf_name": to_vcf.get(name),
                       "dir": str(k) if name in by_name else None, "records": d["records"], "calls": d["calls"]})
        for s, (symbolic, overlapping, message) in d["skipped"].items():  # the first in .fai order
            total = skipped.setdefault(samples[int(s)], [0, 0, message])
            total[0] += symbolic
            total[1] += overlapping
        log.info("%s: %s: %d records, %d applied calls", vcf, name, d["records"], d["calls"])
    if skipped:
        log.warning("%s: %d samples have calls that cannot be applied, skipped (loading one warns of them): %s", vcf,
                    len(skipped), "; ".join(f"{s}: {m}" for s, (_, _, m) in list(skipped.items())[:5]))
    return {"format": FORMAT, "version": VERSION, "vcf": str(vcf), "vcf_size": stat.st_size,
            "vcf_mtime_ns": stat.st_mtime_ns, "vcf_sha256": _small_file_digest(vcf, stat.st_size),
            "reference": str(reference), "chrom_aliases": bool(aliases),
            "chunk_records": chunk_records, "samples": samples, "chroms": chroms, "skipped": skipped}


CHECKSUM_MAX_BYTES = 64 << 20  # VCFs up to this size are compared by content when their time changes


def _small_file_digest(path, size):
    """sha256 of a file of at most :data:`CHECKSUM_MAX_BYTES`, else None. Snakemake compares small inputs by
    checksum (up to --max-checksum-file-size, 1 MB by default): a VCF saved again unchanged reruns nothing, so
    the store must not call it changed either."""
    if size > CHECKSUM_MAX_BYTES:
        return None
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _genotype_rule(gt, n_alt):
    """The allele index each sample carries (uint8, 0 = the reference) from
    cyvcf2's ``genotype.array()``: the lowest ALT index called; an index past
    the record's ALTs counts as missing, as pysam reads it."""
    calls = gt[:, :-1].view(np.uint16)  # the last column is the phasing; missing (-1) and none (-2) as 65535, 65534
    low = calls[:, 0] - np.uint16(1)  # REF (0) wraps to 65535: the minimum is the lowest ALT index - 1
    for more in calls.T[1:]:
        np.minimum(low, more - np.uint16(1), out=low)
    return np.where(low < n_alt, low + 1, 0)


class _Chromosome:
    """One chromosome's extraction: the record table grows in compact arrays,
    calls go to disk a chunk at a time (:meth:`flush`)."""

    def __init__(self, vcf, vcf_name, name, out, fasta, samples, chunk_records):
        self.vcf, self.vcf_name, self.name, self.out, self.fasta = vcf, vcf_name, name, Path(out), fasta
        self.samples, self.S, self.B = samples, len(samples), chunk_records
        self.ref_tokens = encode_chrom(fasta, name)
        self.pos, self.first_allele = array.array("q"), array.array("q", [0])  # per record
        self.astart, self.kinds, self.bases = array.array("q", [0]), bytearray(), bytearray()  # per allele
        self.trimmed = array.array("q"), array.array("q"), array.array("q")  # allele id, head, tail (_shared_ends)
        self.applied = np.zeros((chunk_records, self.S), np.uint8)  # the chunk's calls: allele index, 0 = REF
        self.m = 0  # records in the chunk
        self.reach = np.full(self.S, -1, np.int64)  # the furthest end of each sample's calls so far
        self.skipped = np.zeros((2, self.S), np.int64)  # calls not applied: symbolic, starting before an earlier call's end
        self.first = {}  # sample index -> (record, message): its first call not applied
        self.counts = []
        self.out.mkdir(parents=True)

    def add(self, rec):
        ref, alts = rec.REF, rec.ALT
        if not _ALLELE.fullmatch(ref or ""):
            raise ValueError(f"{self._where(rec.start)}: REF {ref!r} is not a sequence allele")
        if len(alts) > 255:
            raise ValueError(f"{self._where(rec.start)}: {len(alts)} ALT alleles; at most 255 are supported")
        self.pos.append(rec.start)
        ref_id = len(self.astart) - 1
        for allele in (ref, *alts):
            self.bases += allele.encode()
            self.astart.append(len(self.bases))
            self.kinds.append(_SEQUENCE if _ALLELE.fullmatch(allele) else _STAR if allele == "*" else _SYMBOLIC)
        self.first_allele.append(len(self.astart) - 1)
        if len(ref) > 1:
            for j, allele in enumerate(alts, start=1):
                if len(allele) > 1 and self.kinds[ref_id + j] == _SEQUENCE:
                    head, tail = _shared_ends(ref, allele)
                    if head or tail:
                        for values, value in zip(self.trimmed, (ref_id + j, head, tail)):
                            values.append(value)
        fmt = rec.FORMAT
        _check_gt_first(self._where(rec.start), fmt)
        self.applied[self.m] = _genotype_rule(rec.genotype.array(), len(alts)) if "GT" in fmt else 0
        self.m += 1
        if self.m == self.B:
            self.flush()

    def _where(self, start):
        return f"{self.vcf}: {self.vcf_name}:{start + 1}"

    def _allele(self, allele_id):
        return self.bases[self.astart[allele_id]: self.astart[allele_id + 1]].decode()

    def _skip(self, s, record, message):
        if s not in self.first or self.first[s][0] > record:
            self.first[s] = (record, message)

    def flush(self):
        """Check the chunk's records, drop the calls that cannot be applied
        (counting them), write the calls sample by sample."""
        m, base = self.m, len(self.pos) - self.m
        first = np.frombuffer(self.first_allele, np.int64)[base: base + m + 1].copy()  # allele ids, + the next record's
        astart = np.frombuffer(self.astart, np.int64)
        pos = np.frombuffer(self.pos, np.int64)[base:].copy()
        rlen = astart[first[:-1] + 1] - astart[first[:-1]]
        refs = np.frombuffer(self.bases, np.uint8)[np.repeat(astart[first[:-1]], rlen) + _within(rlen)]
        kind = np.frombuffer(self.kinds, np.uint8)[first[0]:].copy()
        sequences = np.add.reduceat((kind == _SEQUENCE).astype(np.int64), first[:-1] - first[0])  # REF one of them
        bad = _ref_mismatch(self.ref_tokens, pos, rlen, encode(refs), breakend=sequences == 1)
        if bad is not None:
            ref = self._allele(int(first[bad]))
            raise ValueError(_ref_mismatch_message(self.vcf, self.fasta, self.name, int(pos[bad]), ref))
        applied = self.applied[:m]
        odd = np.flatnonzero(sequences < np.diff(first))
        for i in odd:  # records with a symbolic or * ALT
            carried = kind[first[i] - first[0] + applied[i]]
            for s in np.flatnonzero(carried == _SYMBOLIC):
                allele = self._allele(int(first[i] + applied[i, s]))
                self._skip(int(s), base + i, _symbolic_message(self._where(int(pos[i])), self.samples[s], allele))
            self.skipped[0] += carried == _SYMBOLIC
            applied[i, carried != _SEQUENCE] = 0
        self._skip_overlaps(base, pos, rlen, first, applied)

        by_sample = np.ascontiguousarray(applied.T)  # (S, m)
        flat = np.flatnonzero(by_sample)  # sample-major; a sample's records in order
        allele = by_sample.ravel()[flat]
        bounds = np.searchsorted(flat, np.arange(self.S + 1) * m)  # each sample's calls: flat[bounds[s]:bounds[s+1]]
        for name, values in (("offset", (flat % m).astype(np.uint16)), ("allele", allele)):
            with open(self.out / f"{name}.raw", "ab") as f:
                values.tofile(f)
        self.counts.append(np.diff(bounds))
        self.m = 0

    def _trims(self, allele_ids):
        """``(head, tail)`` of each allele's call (:func:`ntpipe.variants._shared_ends`; 0 for most)."""
        ids, heads, tails = (np.frombuffer(a, np.int64) for a in self.trimmed)  # ids ascending
        head, tail = np.zeros(len(allele_ids), np.int64), np.zeros(len(allele_ids), np.int64)
        if len(ids):
            at = np.minimum(np.searchsorted(ids, allele_ids), len(ids) - 1)
            found = ids[at] == allele_ids
            head[found], tail[found] = heads[at[found]], tails[at[found]]
        return head, tail

    def _skip_overlaps(self, base, pos, rlen, first, applied):
        """Drop each call that starts before the end of an earlier call of its sample
        (:func:`ntpipe.variants.overlapping_calls`, all samples at once; calls trimmed)."""
        s_idx, r_idx = np.nonzero(applied.T)  # sample-major, a sample's records in order
        if not len(s_idx):
            return
        head, tail = self._trims(first[r_idx] + applied[r_idx, s_idx])
        start, end = pos[r_idx] + head, pos[r_idx] + rlen[r_idx] - tail
        offset = np.int64(1) << np.int64(40)  # > any end: a running maximum of s * offset + end stays in its sample
        key = s_idx * offset + end
        running = np.maximum.accumulate(key)
        new = np.r_[True, s_idx[1:] != s_idx[:-1]]  # a sample's first call in the chunk
        before = np.where(new, self.reach[s_idx], np.maximum(np.r_[0, running[:-1]] - s_idx * offset, self.reach[s_idx]))
        inside = start < before
        last = np.r_[np.flatnonzero(new)[1:] - 1, len(s_idx) - 1]  # a sample's last call in the chunk
        np.maximum.at(self.reach, s_idx[last], running[last] - s_idx[last] * offset)
        for j in np.flatnonzero(inside):
            s, r = int(s_idx[j]), int(r_idx[j])
            if s not in self.first or self.first[s][0] > base + r:
                call = self._allele(int(first[r])), self._allele(int(first[r] + applied[r, s]))
                self._skip(s, base + r, _overlap_message(self.vcf, self.name, self.samples[s], int(pos[r]), *call, int(before[j])))
        np.add.at(self.skipped[1], s_idx[inside], 1)
        applied[r_idx[inside], s_idx[inside]] = 0

    def finish(self):
        """Write the record table and the calls as .npy files; returns the chromosome's summary."""
        if self.m:
            self.flush()
        np.save(self.out / "pos.npy", np.frombuffer(self.pos, np.int64))
        np.save(self.out / "first_allele.npy", np.frombuffer(self.first_allele, np.int64))
        np.save(self.out / "allele_start.npy", np.frombuffer(self.astart, np.int64))
        np.save(self.out / "bases.npy", np.frombuffer(self.bases, np.uint8))
        calls = 0
        for name, dtype in (("offset", np.uint16), ("allele", np.uint8)):
            raw = self.out / f"{name}.raw"  # none when the chromosome has no records (a BCF indexes every contig)
            calls = raw.stat().st_size // np.dtype(dtype).itemsize if raw.exists() else 0
            target = np.lib.format.open_memmap(self.out / f"{name}.npy", mode="w+", dtype=dtype, shape=(calls,))
            if calls:
                source = np.memmap(raw, dtype=dtype, mode="r")
                for lo in range(0, calls, 1 << 24):
                    target[lo: lo + (1 << 24)] = source[lo: lo + (1 << 24)]
                del source
            target.flush()
            del target
            raw.unlink(missing_ok=True)
        counts = np.array(self.counts, np.int64).reshape(-1, self.S)  # (chunks, S)
        starts = np.zeros((self.S + 1, len(counts)), np.int64)
        np.cumsum(counts.T, axis=0, out=starts[1:])
        starts += np.r_[0, np.cumsum(counts.sum(axis=1))[:-1]][None, :]  # where each chunk's calls begin
        np.save(self.out / "starts.npy", starts)
        return {"name": self.name, "records": len(self.pos), "calls": int(calls),
                "skipped": {int(s): [int(self.skipped[0, s]), int(self.skipped[1, s]), message]
                            for s, (_, message) in self.first.items()}}


def _extract_chrom(job):
    """One chromosome of a VCF into ``out`` (run in a worker process)."""
    import cyvcf2

    vcf, vcf_name, name, out, reference, chunk_records = job
    reader = cyvcf2.VCF(vcf, gts012=False, strict_gt=False)  # lazy=True crashes on REF in a region query (cyvcf2 0.35)
    fasta = open_fasta(reference)
    try:
        chrom = _Chromosome(vcf, vcf_name, name, out, fasta, reader.samples, chunk_records)
        for rec in reader(vcf_name):
            chrom.add(rec)
        return chrom.finish()
    finally:
        reader.close()
        fasta.close()


# --------------------------------------------------------------------------- loading

def read_meta(store):
    """A store's ``meta.json``; a ValueError when it is missing or of another version."""
    path = Path(store) / "meta.json"
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{store}: not a complete variants store (no meta.json): extract the VCF into it first"
                         " (an interrupted extraction leaves nothing here)") from None
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read: {err}") from None
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise ValueError(f"{path}: a variants store of format {meta.get('format')!r} version {meta.get('version')!r};"
                         f" this ntpipe reads version {VERSION}: extract the VCF again")
    return meta


def load_variants(store, sample, reference):
    """One sample's applied variants from a store, as :func:`ntpipe.variants.read_variants` returns them.

    Parameters
    ----------
    store : directory written by :func:`extract_variants`.
    sample : str, or None for a single-sample VCF.
    reference : FASTA path or ``pyfaidx.Fasta``: the one the store was extracted against.

    Returns
    -------
    dict ``{chrom: Variants}`` with every reference chromosome in ``.fai``
    order, empty Variants where nothing is applied.

    Raises
    ------
    ValueError for an incomplete store, a sample not in the VCF, another
    reference, or a VCF changed since the extraction. A sample's skipped
    calls are logged as a warning, the one read_variants gives.
    """
    meta = read_meta(store)
    vcf = meta["vcf"]
    sample = _pick_sample(vcf, meta["samples"], sample)
    if sample in meta["skipped"]:
        log.warning(skipped_warning(vcf, sample, *meta["skipped"][sample]))
    fasta = reference if isinstance(reference, pyfaidx.Fasta) else open_fasta(reference)
    sizes = [(c["name"], c["length"]) for c in meta["chroms"]]
    if chrom_sizes(fasta) != sizes:
        raise ValueError(f"{store}: extracted against {meta['reference']} ({len(sizes)} sequences: "
                         f"{', '.join(f'{n} {k} bp' for n, k in sizes[:3])}{', ...' if len(sizes) > 3 else ''}),"
                         f" whose sequences differ from {fasta.filename}'s: extract the VCF against this reference")
    if Path(vcf).is_file():
        stat = Path(vcf).stat()
        same = (stat.st_size, stat.st_mtime_ns) == (meta["vcf_size"], meta["vcf_mtime_ns"]) or (
            stat.st_size == meta["vcf_size"] and meta.get("vcf_sha256") is not None
            and _small_file_digest(vcf, stat.st_size) == meta["vcf_sha256"])
        if not same:
            raise ValueError(f"{store}: {vcf} has changed since it was extracted ({meta['vcf_size']} bytes then,"
                             f" {stat.st_size} now, or other content): extract it again (in the workflow:"
                             f" snakemake {store} --force, then the tracks it feeds)")
    s = meta["samples"].index(sample)
    variants = {c["name"]: _load_chrom(Path(store) / c["dir"], s, meta["chunk_records"]) if c["records"] else Variants()
                for c in meta["chroms"]}
    log_applied(vcf, sample, sum(len(v) for v in variants.values()), sum(c["records"] for c in meta["chroms"]))
    return variants


def _load_chrom(directory, s, chunk_records):
    """Sample ``s``'s Variants of one chromosome's directory, read through memory maps."""
    def part(name):
        return np.load(directory / f"{name}.npy", mmap_mode="r")

    starts = part("starts")
    lo, hi = np.asarray(starts[s]), np.asarray(starts[s + 1])
    calls = np.repeat(lo, hi - lo) + _within(hi - lo)  # the sample's run in each chunk, joined
    chunk = np.repeat(np.arange(len(lo), dtype=np.int64) * chunk_records, hi - lo)
    record = chunk + part("offset")[calls]
    first = part("first_allele")[record]
    alleles = part("allele_start"), part("bases")
    return trim_calls(Variants(part("pos")[record], _strings(*alleles, first), _strings(*alleles, first + part("allele")[calls])))


def _strings(allele_start, bases, ids):
    """The alleles ``ids`` as a list of str (one decode and split, no per-allele slicing)."""
    if not len(ids):
        return []
    lo = allele_start[ids]
    length = allele_start[ids + 1] - lo
    letters = bases[np.repeat(lo, length) + _within(length)]
    if len(letters) == len(ids):  # all single bases (SNPs)
        return list(letters.tobytes().decode("ascii"))
    joined = np.full(len(letters) + len(ids), ord("\t"), np.uint8)  # each allele followed by a tab
    joined[np.repeat(np.cumsum(length + 1) - length - 1, length) + _within(length)] = letters
    return joined[:-1].tobytes().decode("ascii").split("\t")
