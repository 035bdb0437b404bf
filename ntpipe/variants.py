"""Varieties given as a VCF against the reference: read one sample's calls,
apply them to the reference, and cut the variety's windows on reference
coordinates.

Genotype rule (one sample, the called alleles of its ``GT``):

- homozygous ALT (``1/1``, ``2/2``): that ALT allele is applied;
- heterozygous (``0/1``, ``1/2``, ``./1``): its ALT allele is applied, the one
  with the lowest allele index when two differ (rice varieties are inbred, so
  heterozygous calls are mostly calling noise, and the ALT keeps the variety's
  own sequence);
- homozygous reference (``0/0``) or missing (``./.``, ``.``, or no ``GT``):
  the reference is kept;
- multi-allelic records apply the allele the sample carries (``2/2`` applies
  the second ALT), never simply the first ALT.

A spanning-deletion allele ``*`` keeps the reference (the deletion's own
record removes those bases). What cannot be applied is skipped, with a
warning that counts it and names the first, as ``bcftools consensus`` does,
so that one odd call of 3,000 samples does not cost a variety its tracks:
symbolic or breakend alleles (``<DEL>``, ``N[Chr2:100[``), and a call that
starts before the end of an earlier (in the VCF's order) applied or skipped
call of the same sample (a SNP inside a heterozygous deletion; rarely, a call
before the change of a record that starts earlier, ``GGGGT>GGGGA`` being
``T>A`` at its fifth base).

A call is the change its allele makes: the bases REF and the allele share at
their end, then at their start, are trimmed as ``bcftools norm`` trims them
(keeping one base of each), so that a multi-allelic record's padding (``ACGTA``
> ``TCGTA`` beside a deletion allele ``A``) is the SNP ``A>T`` and does not hide
the sample's calls in the next records, and a padded indel (``ACGTA>AGTA``)
places the bases after it as ``AC>A`` does. FILTER is not looked at (as in ``bcftools
consensus``): filter the VCF first (``bcftools view -f PASS``) if only
passing calls should count. Every record's REF must match the reference at
its position (where the reference has N or an IUPAC code, any base does; a telomere's breakend, REF ``N`` at POS 0 or length + 1, lies
outside it and is skipped), checked before anything is written.

Coordinates are 0-based; VCF positions in messages are the file's 1-based
``POS``.
"""

import logging
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pyfaidx

from .encoding import N_TOKEN, bin_layout, encode
from .genome import encode_chrom, fetch, open_fasta, write_fasta

__all__ = ["Variants", "read_variants", "apply_variants", "variety_windows", "write_consensus", "log_applied",
           "open_variant_file"]

log = logging.getLogger(__name__)

_ALLELE = re.compile(r"[ACGTNRYSWKMBDHVU]+", re.IGNORECASE)


@dataclass(frozen=True)
class Variants:
    """Applied variants of one chromosome, sorted by position.

    Attributes
    ----------
    pos : numpy int64 array, 0-based position of each call's REF.
    ref, alt : lists of str, the REF and the applied allele of each call
        (trimmed of shared bases by :func:`read_variants`, see the module docstring).
    """

    pos: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    ref: list = field(default_factory=list)
    alt: list = field(default_factory=list)

    def __post_init__(self):
        object.__setattr__(self, "pos", np.asarray(self.pos, dtype=np.int64).reshape(-1))
        object.__setattr__(self, "ref", list(self.ref))
        object.__setattr__(self, "alt", list(self.alt))
        if not len(self.pos) == len(self.ref) == len(self.alt):
            raise ValueError(
                f"Variants needs one pos, ref and alt per record, got {len(self.pos)}, {len(self.ref)}, {len(self.alt)}"
            )
        for alleles in (self.ref, self.alt):  # one regex over the joined alleles, none empty
            if alleles and ("" in alleles or not _ALLELE.fullmatch("".join(alleles))):
                bad = next(a for a in alleles if not _ALLELE.fullmatch(a))
                raise ValueError(f"not a sequence allele: {bad!r} (expected A, C, G, T, N or IUPAC letters)")

    def __len__(self):
        return len(self.pos)

    @cached_property
    def ref_len(self):
        return np.fromiter(map(len, self.ref), dtype=np.int64, count=len(self.ref))

    @cached_property
    def alt_len(self):
        return np.fromiter(map(len, self.alt), dtype=np.int64, count=len(self.alt))


def _shared_ends(ref, alt):
    """``(head, tail)``: the bases REF and an allele share at their end, then
    at their start, that ``bcftools norm`` trims (one base of each is kept)."""
    ref, alt = ref.upper(), alt.upper()
    n = min(len(ref), len(alt)) - 1
    tail = 0
    while tail < n and ref[-1 - tail] == alt[-1 - tail]:
        tail += 1
    head = 0
    while head < n - tail and ref[head] == alt[head]:
        head += 1
    return head, tail


def trim_calls(variants):
    """The same calls with REF and allele trimmed of the bases they share
    (:func:`_shared_ends`), each ``pos`` moved by its trimmed head; the
    Variants itself when none is (a normalised VCF's: only calls whose
    alleles both have two bases or more are looked at)."""
    longer = np.flatnonzero(np.minimum(variants.ref_len, variants.alt_len) > 1)
    trims = [(i, *_shared_ends(variants.ref[i], variants.alt[i])) for i in longer]
    trims = [(i, head, tail) for i, head, tail in trims if head or tail]
    if not trims:
        return variants
    pos, refs, alts = variants.pos.copy(), list(variants.ref), list(variants.alt)
    for i, head, tail in trims:
        pos[i] += head
        refs[i], alts[i] = refs[i][head: len(refs[i]) - tail], alts[i][head: len(alts[i]) - tail]
    return Variants(pos, refs, alts)


def allele_offsets(k, rlen, alen, head, tail):
    """Where base ``k`` of a REF of ``rlen`` bases lands in its allele of
    ``alen``: the first ``head`` bases (an indel's left anchor) and the last
    ``tail`` (its right anchor, at a chromosome's first base) keep their
    place; the others map to ``min(k, alen - tail)``, so a deleted base maps to
    the first base after the deletion. Vectorised over arrays."""
    return np.where(k < head, k, np.where(k >= rlen - tail, alen - rlen + k, np.minimum(k, alen - tail)))


def anchors(variants, ref_codes=None, alt_codes=None):
    """``(head, tail)`` of trimmed calls for :func:`allele_offsets`: an allele
    sharing its first base with REF is anchored there, else one sharing its
    last base is anchored at its end (int64 arrays). ``ref_codes``,
    ``alt_codes``: the alleles' tokens, concatenated, when already encoded."""
    rlen, alen = variants.ref_len, variants.alt_len
    ref = encode("".join(variants.ref)) if ref_codes is None else ref_codes
    alt = encode("".join(variants.alt)) if alt_codes is None else alt_codes
    rend, aend = np.cumsum(rlen), np.cumsum(alen)
    first = ref[rend - rlen] == alt[aend - alen]
    last = ref[rend - 1] == alt[aend - 1]
    return first.astype(np.int64), (last & ~first).astype(np.int64)


def _within(lengths):
    """``0..n-1`` for each run of length n, concatenated (no loop)."""
    total = int(lengths.sum())
    firsts = np.cumsum(lengths) - lengths
    return np.arange(total, dtype=np.int64) - np.repeat(firsts, lengths)


def _ref_mismatch(ref_tokens, pos, rlen, ref_codes, breakend=None):
    """Index of the first record whose REF runs past the chromosome end or
    differs from the reference, else None. ``rlen``: each REF's length;
    ``ref_codes``: every REF's tokens, concatenated (so IUPAC codes equal N).
    A reference N (or IUPAC code) matches any base: callers write it resolved
    (``A`` where the reference has ``R``). Vectorised over all records. A telomere's breakend (REF ``N`` at POS 0 or
    length + 1, the VCF specification's 5.4.9; ``breakend``: the records with
    no sequence ALT) lies outside the chromosome and is not checked: its
    allele is skipped as a breakend."""
    if not len(pos):
        return None
    starts = np.cumsum(rlen) - rlen
    bad = (pos + rlen > len(ref_tokens)) | (pos < 0)
    if len(ref_tokens):
        idx = np.clip(np.repeat(pos, rlen) + _within(rlen), 0, len(ref_tokens) - 1)
        differs = (ref_tokens[idx] != ref_codes) & (ref_tokens[idx] != N_TOKEN)
        bad |= np.logical_or.reduceat(differs, starts)  # every REF is >= 1 base
    if breakend is not None:
        outside = (pos == -1) | (pos == len(ref_tokens))
        bad &= ~(outside & (rlen == 1) & (ref_codes[starts] == N_TOKEN) & np.asarray(breakend, bool))
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else None


def _first_overlap(pos, rlen):
    """Index ``j`` of the first record overlapping record ``j-1`` (sorted input), else None."""
    bad = np.flatnonzero(pos[1:] < pos[:-1] + rlen[:-1])
    return int(bad[0]) + 1 if bad.size else None


def _check_layout(length, variants):
    pos, rlen = variants.pos, variants.ref_len
    if len(pos) and (pos[0] < 0 or np.any(np.diff(pos) < 0)):
        raise ValueError("variants must be sorted by position once trimmed and start at 0 or later")
    j = _first_overlap(pos, rlen)
    if j is not None:
        raise ValueError(
            f"overlapping variants at 0-based positions {pos[j - 1]} ({variants.ref[j - 1]}>{variants.alt[j - 1]})"
            f" and {pos[j]} ({variants.ref[j]}>{variants.alt[j]})"
        )
    if len(pos) and pos[-1] + rlen[-1] > length:
        raise ValueError(f"variant at 0-based position {pos[-1]} runs past the chromosome end ({length})")


def apply_variants(ref_tokens, variants):
    """Apply one chromosome's variants to its reference tokens.

    Vectorised: every reference base not covered by a call's REF is
    scattered to its consensus position, every applied allele to where its REF
    started; no per-base or per-record Python loop. Calls are trimmed first
    (:func:`trim_calls`; the readers' already are).

    Parameters
    ----------
    ref_tokens : numpy uint8 array, the reference chromosome (``encode``).
    variants : Variants or None; once trimmed, sorted and non-overlapping (as the readers' calls are).

    Returns
    -------
    var_tokens : numpy uint8 array, the variety's consensus.
    ref_to_var : numpy int64 array of ``len(ref_tokens) + 1``: the consensus
        position of every reference position. Base ``k`` of a call's REF
        maps to base ``allele_offsets(k, ...)`` of its allele: an anchor base
        to itself, a deleted base to the first base after the deletion; the
        last entry maps ``len(ref)`` to ``len(var)``. The array is
        non-decreasing.

    Raises
    ------
    ValueError if the variants are unsorted, overlap, run past the end, or
    their REF differs from ``ref_tokens``.
    """
    ref_tokens = np.asarray(ref_tokens, dtype=np.uint8)
    length = len(ref_tokens)
    if variants is None or len(variants) == 0:
        return ref_tokens.copy(), np.arange(length + 1, dtype=np.int64)
    variants = trim_calls(variants)
    _check_layout(length, variants)
    ref_codes, alt_codes = encode("".join(variants.ref)), encode("".join(variants.alt))
    bad = _ref_mismatch(ref_tokens, variants.pos, variants.ref_len, ref_codes)
    if bad is not None:
        raise ValueError(f"REF {variants.ref[bad]!r} at 0-based position {variants.pos[bad]} differs from the reference tokens")
    pos, rlen, alen = variants.pos, variants.ref_len, variants.alt_len
    k_ref = _within(rlen)
    covered = np.repeat(pos, rlen) + k_ref
    out_len = np.ones(length, dtype=np.int64)
    out_len[covered] = 0
    out_len[pos] += alen  # one record per position: REF spans never share a base
    ref_to_var = np.zeros(length + 1, dtype=np.int64)
    np.cumsum(out_len, out=ref_to_var[1:])

    var_tokens = np.empty(int(ref_to_var[-1]), dtype=np.uint8)
    kept = np.ones(length, dtype=bool)
    kept[covered] = False
    var_tokens[ref_to_var[:-1][kept]] = ref_tokens[kept]
    var_tokens[np.repeat(ref_to_var[pos], alen) + _within(alen)] = alt_codes

    head, tail = anchors(variants, ref_codes, alt_codes)
    ref_to_var[covered] = np.repeat(ref_to_var[pos], rlen) + allele_offsets(
        k_ref, np.repeat(rlen, rlen), np.repeat(alen, rlen), np.repeat(head, rlen), np.repeat(tail, rlen))
    return var_tokens, ref_to_var


def _map_positions(ref_to_var, positions):
    """Consensus position of reference positions, also outside the chromosome
    (before it: unchanged; past its end: shifted by the net indel length)."""
    length = len(ref_to_var) - 1
    inside = ref_to_var[np.clip(positions, 0, length)]
    return np.where(positions < 0, positions, np.where(positions > length, ref_to_var[-1] + positions - length, inside))


def variety_windows(ref_tokens, variants, size, stride):
    """A VCF variety's windows on reference coordinates.

    Reference bin ``i`` covers ``[i*stride, min((i+1)*stride, L))`` (the bins
    of :func:`ntpipe.encoding.bin_layout`). Its centre is the reference
    position ``c_i = i*stride - left + size//2`` with
    ``left = (size - stride)//2``, i.e. the base at offset ``size//2`` of the
    reference window ``[i*stride - left, i*stride - left + size)``
    (``i*stride + stride//2`` when size and stride are both even). The
    variety's window for bin ``i`` is the ``size`` bases of its consensus
    starting at ``map(c_i) - size//2``, ``map`` being ``ref_to_var`` of
    :func:`apply_variants` (a centre inside a deletion maps to where the
    deletion is; positions outside the chromosome keep their distance to its
    ends); consensus positions outside the chromosome are N. An indel shifts
    the flanks; the window stays ``size`` long.

    So a bin whose reference window holds no variant gets exactly the
    reference window, and with no variants ``padded`` equals
    ``pad_for_bins(ref_tokens, size, stride)`` and ``starts`` equals
    ``arange(n_bins) * stride``.

    Parameters
    ----------
    ref_tokens : numpy uint8 array, the reference chromosome.
    variants : Variants or None.
    size, stride : window length and bin width (``size >= stride``).

    Returns
    -------
    padded : numpy uint8 array, the consensus with N on both sides.
    starts : numpy int64 array of ``n_bins``: ``padded[starts[i]:starts[i]+size]``
        is bin ``i``'s window.
    """
    ref_tokens = np.asarray(ref_tokens, dtype=np.uint8)
    n_bins, left, right = bin_layout(len(ref_tokens), size, stride)
    var_tokens, ref_to_var = apply_variants(ref_tokens, variants)
    if n_bins == 0:
        pad = np.full(left + right, N_TOKEN, np.uint8)
        return np.concatenate([pad[:left], var_tokens, pad[left:]]), np.empty(0, np.int64)
    half = size // 2
    centres = np.arange(n_bins, dtype=np.int64) * stride - left + half
    raw = _map_positions(ref_to_var, centres) - half  # window starts in consensus coordinates
    pad_left = max(0, -int(raw.min()))
    pad_right = max(0, int(raw.max()) + size - len(var_tokens))
    padded = np.concatenate(
        [np.full(pad_left, N_TOKEN, np.uint8), var_tokens, np.full(pad_right, N_TOKEN, np.uint8)]
    )
    return padded, raw + pad_left


class _MissingFile(FileNotFoundError, ValueError):
    """A missing input: both a FileNotFoundError and a ValueError."""


# Messages, shared with ntpipe.vcfstore so that both name a problem alike.
# ``where`` is ``"{vcf}: {VCF chromosome}:{POS}"``.

def _pick_sample(path, samples, sample):
    """``sample``, or the only sample of a single-sample VCF; else a ValueError."""
    if sample is None:
        if len(samples) != 1:
            raise ValueError(
                f"{path}: has {len(samples)} samples ({', '.join(samples) or 'none'});"
                " expected exactly one, or name the sample to use"
            )
        return samples[0]
    if sample not in samples:
        raise ValueError(f"{path}: sample {sample!r} is not in the VCF; available samples: {', '.join(samples) or 'none'}")
    return sample


def _unknown_chrom_message(where, chrom, fasta):
    names = list(fasta.keys())
    return (f"{where}: chromosome {chrom!r} is not in the reference {fasta.filename}"
            f" (reference has {', '.join(names[:5])}{', ...' if len(names) > 5 else ''})")


def _symbolic_message(where, sample, allele):
    return f"{where}: sample {sample!r} carries the symbolic or breakend allele {allele!r}, which cannot be applied"


def _ref_mismatch_message(vcf, fasta, name, start, ref):
    length = len(fasta[name])
    if start < 0 or start + len(ref) > length:
        return (f"{vcf}: {name}:{start + 1}: REF {ref!r} lies outside {name} of the reference {fasta.filename}"
                f" ({length} bp); was the VCF called against another reference?")
    got = fetch(fasta, name, start, start + len(ref))
    return (f"{vcf}: {name}:{start + 1}: REF {ref!r} does not match the reference"
            f" {fasta.filename} there ({got!r}); was the VCF called against another reference?")


def _overlap_message(vcf, name, sample, pos, ref, alt, reach):
    """A call (0-based ``pos``) that starts before ``reach``, the end of an earlier call of the sample."""
    return (f"{vcf}: {name}:{pos + 1}: call {ref}>{alt} of sample {sample!r} starts before the end of an earlier"
            f" call of that sample (which reaches {name}:{reach})")


def skipped_warning(vcf, sample, symbolic, overlapping, first):
    """The warning for a sample's calls that were not applied (the module docstring)."""
    return (f"{vcf}, sample {sample}: not applied (its track keeps the reference there): {symbolic} symbolic or"
            f" breakend allele(s), {overlapping} call(s) starting before the end of an earlier one; the first: {first}")


def overlapping_calls(pos, end, reach=-1):
    """Which of a sample's calls (trimmed, in the order of their records)
    start before the end of an earlier one: ``(mask, reach before each call)``;
    ``reach``: the furthest end of its calls before these."""
    before = np.maximum.accumulate(np.r_[reach, end[:-1]]) if len(pos) else np.empty(0, np.int64)
    return pos < before, before


def open_variant_file(path):
    """An open ``pysam.VariantFile``; a missing, unreadable or gzip- (not bgzip-) compressed file is a
    ValueError naming it and what was expected."""
    import pysam

    if not Path(path).is_file():
        raise _MissingFile(f"VCF not found: {path}")
    try:
        return pysam.VariantFile(str(path))
    except NotImplementedError:  # htslib cannot seek in plain gzip
        raise ValueError(f"{path}: compressed with gzip, not bgzip; expected a bgzipped VCF with an index "
                         f"(zcat {path} | bgzip > new.vcf.gz, then tabix -p vcf new.vcf.gz)") from None
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read as VCF/BCF: {err}") from None


def _open_vcf(vcf, sample, need_index):
    path = Path(vcf)
    handle = open_variant_file(path)
    try:
        sample = _pick_sample(path, list(handle.header.samples), sample)
    except ValueError:
        handle.close()
        raise
    if need_index and handle.index is None:
        handle.close()
        raise ValueError(f"{path}: reading chosen chromosomes needs an index (bgzip + tabix -p vcf, or bcftools index)")
    handle.subset_samples([sample])
    return handle, sample


def _records(handle, vcf, chroms):
    """Records of the whole file, or of ``chroms`` through the index; pysam's
    read errors become ValueErrors naming the file."""
    if chroms is None:
        it = iter(handle)
    else:
        contigs = set(handle.header.contigs)
        it = (rec for chrom in chroms if chrom in contigs for rec in handle.fetch(chrom))
    while True:
        try:
            rec = next(it)
        except StopIteration:
            return
        except (OSError, ValueError) as err:
            raise ValueError(f"{vcf}: cannot read record: {err}") from None
        yield rec


def _check_gt_first(where, keys):
    """ValueError for a record whose FORMAT ``keys`` hold GT, but not first (htslib then reads no genotype, cyvcf2 one)."""
    if "GT" in keys and keys[0] != "GT":
        raise ValueError(f"{where}: FORMAT {':'.join(keys)} holds GT, but not first; the VCF specification puts GT first,"
                         " and readers differ on such a file: rewrite it with GT first")


def _applied_allele(rec, sample, where):
    """The allele string the sample carries at ``rec`` (see the module's
    genotype rule), or None to keep the reference."""
    _check_gt_first(where, list(rec.format))
    call = rec.samples[sample]
    gt = call.get("GT") if "GT" in call else None
    if not gt:
        return None
    alt_idx = [a for a in gt if a is not None and a > 0]
    if not alt_idx:
        return None
    if min(alt_idx) >= len(rec.alleles):
        raise ValueError(f"{where}: sample {sample!r}: GT {gt!r} names allele {min(alt_idx)},"
                         f" but the record has only {len(rec.alleles) - 1} ALT alleles")
    return rec.alleles[min(alt_idx)]


def _contig_names(declared, vcf, fasta, aliases):
    """``{VCF chromosome: reference chromosome}`` for the ``declared`` names:
    the same name, or with ``aliases`` its other naming (:func:`ntpipe.chroms.match`)."""
    declared = list(declared)
    if not aliases:
        return {c: c for c in declared}
    from .chroms import match

    try:
        mapping = match(declared, fasta.keys())
    except ValueError as err:
        raise ValueError(f"{vcf}: {err} (chrom_aliases)") from None
    renamed = {k: v for k, v in mapping.items() if k != v}
    if renamed:
        log.info("%s: chromosome names matched to the reference's (chrom_aliases): %s", vcf,
                 ", ".join(f"{k} -> {v}" for k, v in renamed.items()))
    return mapping


def read_variants(vcf, sample, reference, chroms=None, aliases=False):
    """One sample's applied variants per chromosome (genotype rule in the
    module docstring).

    Parameters
    ----------
    vcf : path to a VCF or BCF (plain, bgzip; indexed only if ``chroms`` is given).
    sample : str or None; None only for a single-sample VCF.
    reference : FASTA path or ``pyfaidx.Fasta`` the VCF was called against.
    chroms : optional list of chromosome names to read (uses the index).
    aliases : match the VCF's chromosome names to the reference's across the
        usual namings (``Chr1``, ``chr01``, ``chr1``, ``1``; see
        :mod:`ntpipe.chroms`), logging each renamed one; an ambiguous match is
        an error. Off: names must be the reference's.

    Returns
    -------
    dict ``{chrom: Variants}`` with every reference chromosome (or every one of
    ``chroms``) in ``.fai`` order, empty Variants where nothing is applied.

    Raises
    ------
    ValueError naming the file, chromosome and 1-based position for: a sample
    not in the VCF, a record on a chromosome the reference lacks, a REF that
    differs from the reference, a missing VCF, or a missing index when
    ``chroms`` is given. Calls that cannot be applied are skipped with a
    warning (the module docstring).
    """
    fasta = reference if isinstance(reference, pyfaidx.Fasta) else open_fasta(reference)
    names = list(fasta.keys())
    if chroms is not None:
        unknown = [c for c in chroms if c not in fasta]
        if unknown:
            raise ValueError(f"{fasta.filename}: no sequence named {', '.join(map(repr, unknown))}")
        names = [c for c in names if c in set(chroms)]
    handle, sample = _open_vcf(vcf, sample, need_index=chroms is not None)
    lengths = {name: len(fasta[name]) for name in names}
    all_records = {name: ([], [], []) for name in names}  # every record: pos, REF, no sequence ALT (for the REF check)
    applied = {name: ([], [], [], []) for name in names}  # pos, REF, allele, record number
    skipped = {"symbolic": 0, "overlapping": 0}
    first = {}  # (.fai index, record number) -> message of a call not applied
    rank = {name: k for k, name in enumerate(names)}
    try:
        to_ref = _contig_names(handle.header.contigs, vcf, fasta, aliases)
        to_vcf = {v: k for k, v in to_ref.items()}
        for rec in _records(handle, vcf, None if chroms is None else [to_vcf.get(n, n) for n in names]):
            where = f"{vcf}: {rec.chrom}:{rec.pos}"
            if rec.chrom not in to_ref:  # a chromosome the header does not declare
                to_ref = _contig_names([*to_ref, rec.chrom], vcf, fasta, aliases)
            chrom = to_ref.get(rec.chrom, rec.chrom)
            if chrom not in all_records:
                raise ValueError(_unknown_chrom_message(where, rec.chrom, fasta))
            if rec.ref is None or not _ALLELE.fullmatch(rec.ref):
                raise ValueError(f"{where}: REF {rec.ref!r} is not a sequence allele")
            number = len(all_records[chrom][0])
            all_records[chrom][0].append(rec.start)
            all_records[chrom][1].append(rec.ref)
            outside = rec.start < 0 or rec.start >= lengths[chrom]  # (only there can a breakend be a telomere's)
            all_records[chrom][2].append(outside and not any(_ALLELE.fullmatch(a) for a in rec.alts or ()))
            allele = _applied_allele(rec, sample, where)
            if allele is None or allele == "*":
                continue
            if not _ALLELE.fullmatch(allele):
                skipped["symbolic"] += 1
                first.setdefault((rank[chrom], number), _symbolic_message(where, sample, allele))
                continue
            for values, value in zip(applied[chrom], (rec.start, rec.ref, allele, number)):
                values.append(value)
    finally:
        handle.close()

    result = {}
    for name in names:
        pos = np.asarray(all_records[name][0], dtype=np.int64)
        if len(pos):
            refs = all_records[name][1]
            rlen = np.fromiter(map(len, refs), dtype=np.int64, count=len(refs))
            bad = _ref_mismatch(encode_chrom(fasta, name), pos, rlen, encode("".join(refs)), all_records[name][2])
            if bad is not None:
                raise ValueError(_ref_mismatch_message(vcf, fasta, name, int(pos[bad]), refs[bad]))
        a_pos, a_ref, a_alt, a_number = applied[name]
        order = np.argsort(np.asarray(a_pos, dtype=np.int64), kind="stable")
        variants = Variants(np.asarray(a_pos, dtype=np.int64)[order], [a_ref[i] for i in order], [a_alt[i] for i in order])
        calls = trim_calls(variants)
        inside, reach = overlapping_calls(calls.pos, calls.pos + calls.ref_len)
        for i in np.flatnonzero(inside):
            skipped["overlapping"] += 1
            first.setdefault((rank[name], a_number[order[i]]), _overlap_message(
                vcf, name, sample, int(variants.pos[i]), variants.ref[i], variants.alt[i], int(reach[i])))
        keep = np.flatnonzero(~inside)
        result[name] = Variants(calls.pos[keep], [calls.ref[i] for i in keep], [calls.alt[i] for i in keep])
    if first:
        log.warning(skipped_warning(vcf, sample, skipped["symbolic"], skipped["overlapping"], first[min(first)]))
    log_applied(vcf, sample, sum(len(v) for v in result.values()), sum(len(r[0]) for r in all_records.values()))
    return result


def log_applied(vcf, sample, n_applied, n_records):
    """Log how many of a sample's calls are applied; a warning when none is among records
    (a failed sample in a merged panel: every call missing, ./., its tracks the reference's)."""
    if n_applied == 0 and n_records:
        log.warning("%s, sample %s: no variant applied among %d records (every call missing or the reference's):"
                    " its windows and tracks are the reference's; a sample that failed calling, or another one"
                    " meant?", vcf, sample, n_records)
    else:
        log.info("%s, sample %s: %d variants applied", vcf, sample, n_applied)


class _ConsensusRecords:
    """``write_fasta`` input that builds one chromosome at a time."""

    def __init__(self, fasta, variants):
        self.fasta, self.variants = fasta, variants

    def items(self):
        for name in self.fasta.keys():
            yield name, apply_variants(encode_chrom(self.fasta, name), self.variants.get(name))[0]


def write_consensus(reference, variants, out_fasta):
    """Write a VCF variety's consensus FASTA (every reference sequence, in
    ``.fai`` order, uppercase, non-ACGT as N) atomically, with its ``.fai``.

    ``variants``: ``{chrom: Variants}`` of :func:`read_variants` or
    :func:`ntpipe.vcfstore.load_variants` (read and checked completely
    before this is called, so a bad VCF leaves no output). Returns the output path.
    """
    fasta = reference if isinstance(reference, pyfaidx.Fasta) else open_fasta(reference)
    Path(out_fasta).parent.mkdir(parents=True, exist_ok=True)
    return write_fasta(out_fasta, _ConsensusRecords(fasta, variants))
