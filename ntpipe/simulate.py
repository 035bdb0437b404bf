"""Synthetic rice-like panel with a known motif grammar (numpy + pysam, no torch).

:func:`simulate` writes, into one directory, everything the workflow consumes
(reference, 20 training cultivars with peaks or reads, prediction varieties as
FASTA or as samples of one VCF, sample sheets) and the ground truth to score it.

Motif grammar
-------------
The truth of any genome is :func:`true_marks` of its own sequence, nothing else:

- ``H3K4me3`` (sharp). Hits of :data:`ACTIVATING_MOTIFS` are grouped per strand
  by single linkage (next hit starts at most ``K4_LINK`` = 300 bp later); a group
  of at least ``K4_MIN`` = 2 hits is a promoter and the mark covers
  ``[first - 300, last_end + 500]`` on the plus strand (mirrored on the minus
  strand): it spreads downstream of its cues, 0.9-1.2 kb, so a 1 kb window
  centred on a marked bin holds its cues.
- ``H3K27me3`` (broad). Hits of :data:`REPRESSIVE_MOTIFS` on either strand are
  grouped by single linkage (gap at most ``K27_LINK`` = 1300 bp). A group is a
  domain if it nucleates: some ``K27_WINDOW`` = 1200 bp holds at least
  ``K27_MIN`` = 3 of its hits. The domain covers its hits padded by 500 bp
  (2-5 kb at demo scale); spreading hits sit 650-1000 bp apart, so every 1 kb
  window inside a domain holds a motif.

Genes are planted at the threshold (2 activating / 3 core repressive motifs),
above it (3 / 4), or one base short of it (``near_*``: a 1-mismatch copy of a
motif). Variants that destroy a threshold motif (``lost``) or complete a
near-motif (``gained``) are planted in subpopulation haplotypes and privately,
so varieties differ in their true marks; ``events.tsv`` lists them.

Population
----------
Two subpopulations ("japonica-like", close to the reference, and
"indica-like"), each with 3 founder haplotypes per block (20-50 kb at demo
scale); every line picks one founder per block and adds a few private
variants (about 1 per 20 kb). Variants are SNPs and 1-20 bp indels written in
VCF style (indels anchored on the preceding base); no two variants of the panel
overlap. Consensus sequences keep the reference's soft-masking case.

VCF rules (``varieties.vcf.gz``): REF and ALT are uppercase and REF matches the
reference; ``1/1`` applies ALT; a few calls are heterozygous ``0/1``, which
also applies ALT (the documented rule: a het call uses its ALT allele); a few
are missing ``./.``, which keeps the reference. The simulator's own consensus
(used for the truth) follows exactly these rules.

Layout (paths inside ``out``)
-----------------------------
``reference.fa``; ``cultivars/CVxx.fa``; ``varieties/NAME.fa`` (FASTA varieties);
``varieties.vcf.gz`` (+ ``.tbi``); ``peaks/CVxx.H3K4me3.narrowPeak`` (CV02's
gzipped) and ``peaks/CVxx.H3K27me3.broadPeak``; ``bam/CV01.H3K4me3.bam`` and
``bam/CV01.input.bam`` (+ ``.bai``); ``truth/{reference,NAME}.MARK.bed`` (own
coordinates), ``truth/NAME.MARK.ref.bed`` (varieties, lifted to the reference),
``truth/genes.tsv``; ``events.tsv``; and, written last, ``training.tsv`` and
``varieties.tsv``.
"""

import gzip
import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .files import atomic_path
from .encoding import N_TOKEN, encode
from .genome import write_fasta
from .intervals import merge_intervals

__all__ = [
    "MARKS",
    "ACTIVATING_MOTIFS",
    "REPRESSIVE_MOTIFS",
    "SCALES",
    "motif_hits",
    "true_marks",
    "apply_variants",
    "lift_to_reference",
    "simulate",
]

log = logging.getLogger(__name__)

MARKS = ("H3K4me3", "H3K27me3")
ACTIVATING_MOTIFS = ("GCCACGTGAT", "AAACCCTAAC", "ATCCGACGGA", "CGGTCAACGC")
REPRESSIVE_MOTIFS = ("GAGAGAAGAG", "AGAGGGAGAA", "GGAGAGGATC")
MOTIF_LEN = 10

K4_LINK, K4_MIN, K4_UP, K4_DOWN = 300, 2, 300, 500
K27_LINK, K27_WINDOW, K27_MIN, K27_PAD = 1300, 1200, 3, 500

_BASES = np.frombuffer(b"ACGTN", dtype=np.uint8)
_COMP = {"A": "T", "C": "G", "G": "C", "T": "A"}
_BG_P = np.array([0.285, 0.215, 0.215, 0.285])  # rice-like 43% GC


def _rc(s):
    return "".join(_COMP[b] for b in reversed(s))


def _check_motifs():
    words = [m for m in ACTIVATING_MOTIFS + REPRESSIVE_MOTIFS] + [_rc(m) for m in ACTIVATING_MOTIFS + REPRESSIVE_MOTIFS]
    for i, a in enumerate(words):
        for b in words[i + 1 :]:
            if sum(x != y for x, y in zip(a, b)) < 2:
                raise ValueError(f"motifs {a!r} and {b!r} differ at fewer than 2 positions")


_check_motifs()


@dataclass(frozen=True)
class _Scale:
    n_chroms: int
    chrom_len: tuple  # target length range per chromosome
    end_spacer: int  # background kept at each chromosome end
    genes: dict  # class -> (min, max) genes per chromosome
    k27_spread: tuple  # spreading motifs per H3K27me3 domain
    n_gaps: int
    gap_len: tuple
    n_repeats: int
    repeat_len: tuple
    block_len: tuple  # haplotype blocks
    reads: tuple  # (ChIP, input) read counts
    n_varieties: int
    n_fasta_varieties: int


SCALES = {
    "demo": _Scale(
        n_chroms=12, chrom_len=(85_000, 95_000), end_spacer=500,
        genes={"H3K4me3": (22, 26), "H3K27me3": (9, 10), "near_H3K4me3": (3, 4), "near_H3K27me3": (2, 3), "none": (5, 6)},
        k27_spread=(1, 4), n_gaps=2, gap_len=(300, 3000), n_repeats=6, repeat_len=(300, 1500),
        block_len=(20_000, 50_000), reads=(40_000, 20_000), n_varieties=6, n_fasta_varieties=2,
    ),
    "test": _Scale(
        n_chroms=10, chrom_len=(9_300, 9_500), end_spacer=30,
        genes={"H3K4me3": (2, 2), "H3K27me3": (2, 2), "near_H3K4me3": (0, 1), "near_H3K27me3": (0, 0), "none": (0, 0)},
        k27_spread=(1, 1), n_gaps=1, gap_len=(100, 300), n_repeats=1, repeat_len=(200, 300),
        block_len=(3_000, 5_000), reads=(4_000, 2_000), n_varieties=3, n_fasta_varieties=1,
    ),
}
SCALES["panel"] = replace(SCALES["demo"], n_varieties=50, n_fasta_varieties=2)

# variant densities per bp: (subpopulation-wide, founder-level) and private per line
_DENSITY = {0: (1 / 3000, 1 / 800), 1: (1 / 700, 1 / 300)}
_PRIVATE_DENSITY = 1 / 20_000
_SUBPOPS = ("japonica", "indica")
_N_FOUNDERS = 3


# --------------------------------------------------------------------------- grammar


def _kmer_codes(tokens, k=MOTIF_LEN):
    """Integer code of every k-mer (-1 where it holds an N)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    n = len(tokens) - k + 1
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    code = np.zeros(n, dtype=np.int64)
    bad = np.zeros(n, dtype=bool)
    for j in range(k):
        t = tokens[j : j + n]
        bad |= t >= N_TOKEN
        code = code * 4 + np.minimum(t, 3)
    code[bad] = -1
    return code


def _word_code(word):
    return int(_kmer_codes(encode(word))[0])


def motif_hits(tokens, motifs):
    """Starts of ``motifs`` in ``tokens`` on each strand.

    Parameters
    ----------
    tokens : uint8 tokens of one sequence (see :mod:`ntpipe.encoding`).
    motifs : iterable of str, all of length 8.

    Returns
    -------
    plus, minus : sorted int64 arrays of 0-based starts of a motif (plus) or of
    its reverse complement (minus).
    """
    motifs = list(motifs)
    if any(len(m) != MOTIF_LEN for m in motifs):
        raise ValueError(f"motifs must be {MOTIF_LEN} bp long, got {motifs!r}")
    code = _kmer_codes(tokens)
    plus = np.flatnonzero(np.isin(code, [_word_code(m) for m in motifs]))
    minus = np.flatnonzero(np.isin(code, [_word_code(_rc(m)) for m in motifs]))
    return plus.astype(np.int64), minus.astype(np.int64)


def _groups(h, link):
    """First and last index of single-linkage groups of sorted positions."""
    cut = np.flatnonzero(np.diff(h) > link)
    first = np.concatenate([[0], cut + 1])
    last = np.concatenate([cut, [len(h) - 1]])
    return first, last


def _k4_intervals(tokens):
    plus, minus = motif_hits(tokens, ACTIVATING_MOTIFS)
    starts, ends = [], []
    for h, up, down in ((plus, K4_UP, K4_DOWN), (minus, K4_DOWN, K4_UP)):
        if h.size == 0:
            continue
        first, last = _groups(h, K4_LINK)
        ok = (last - first + 1) >= K4_MIN
        starts.append(h[first[ok]] - up)
        ends.append(h[last[ok]] + MOTIF_LEN + down)
    if not starts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(starts), np.concatenate(ends)


def _k27_intervals(tokens):
    h = np.unique(np.concatenate(motif_hits(tokens, REPRESSIVE_MOTIFS)))
    if h.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    first, last = _groups(h, K27_LINK)
    group_last = np.repeat(last, last - first + 1)  # last index of each hit's group
    j = np.minimum(np.searchsorted(h, h + K27_WINDOW, side="left"), group_last + 1)
    nucleating = (j - np.arange(h.size)) >= K27_MIN
    group_ok = np.logical_or.reduceat(nucleating, first)
    return h[first[group_ok]] - K27_PAD, h[last[group_ok]] + MOTIF_LEN + K27_PAD


def true_marks(tokens_by_chrom):
    """Ground-truth mark intervals of a genome, from its sequence alone.

    Parameters
    ----------
    tokens_by_chrom : dict of chromosome name -> uint8 tokens, in ``.fai`` order.

    Returns
    -------
    dict mark -> list of ``(chrom, start, end)``, 0-based half-open, merged,
    in chromosome (dict) order then by start.
    """
    out = {mark: [] for mark in MARKS}
    for chrom, tokens in tokens_by_chrom.items():
        length = len(tokens)
        for mark, finder in (("H3K4me3", _k4_intervals), ("H3K27me3", _k27_intervals)):
            s, e = finder(tokens)
            s, e = merge_intervals(np.clip(s, 0, length), np.clip(e, 0, length))
            out[mark].extend((chrom, int(a), int(b)) for a, b in zip(s, e) if b > a)
    return out


# --------------------------------------------------------------------------- variants


def _consensus(seq, starts, ref_lens, alts):
    """Apply sorted, non-overlapping variants to ASCII bytes (keeps soft-masking)."""
    pieces, prev = [], 0
    for s, rl, alt in zip(starts, ref_lens, alts):
        pieces.append(seq[prev:s])
        pieces.append(alt | 32 if seq[s] >= 97 else alt)
        prev = s + rl
    pieces.append(seq[prev:])
    return np.concatenate(pieces)


def apply_variants(sequence, variants):
    """Consensus of one sequence with VCF-style variants.

    Parameters
    ----------
    sequence : str (case is kept: an ALT placed on a lowercase REF is lowercase).
    variants : iterable of ``(pos0, ref, alt)``: 0-based start of REF, REF and
        ALT alleles (indels anchored on the preceding base, as in VCF), sorted
        and non-overlapping; REF must match the sequence (case-insensitive).

    Returns
    -------
    str, the sequence with every ALT applied.
    """
    seq = np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)
    starts, ref_lens, alts, prev_end = [], [], [], 0
    for pos, ref, alt in variants:
        pos = int(pos)
        if pos < prev_end:
            raise ValueError(f"variant at {pos} overlaps or precedes the previous one (ends at {prev_end})")
        if sequence[pos : pos + len(ref)].upper() != ref.upper():
            raise ValueError(f"REF {ref!r} at {pos} does not match the sequence {sequence[pos:pos + len(ref)]!r}")
        starts.append(pos)
        ref_lens.append(len(ref))
        alts.append(np.frombuffer(alt.upper().encode("ascii"), dtype=np.uint8))
        prev_end = pos + len(ref)
    return _consensus(seq, starts, ref_lens, alts).tobytes().decode("ascii")


def lift_to_reference(positions, variants):
    """Map positions of a consensus sequence back to the reference.

    Parameters
    ----------
    positions : array of 0-based positions on the consensus.
    variants : ``(pos0, ref, alt)`` applied to make the consensus (sorted).

    Returns
    -------
    int64 array of reference positions; a position inside an inserted or
    substituted allele maps into the REF allele (an insertion to its anchor).
    """
    starts = np.array([v[0] for v in variants], dtype=np.int64)
    ref_lens = np.array([len(v[1]) for v in variants], dtype=np.int64)
    alt_lens = np.array([len(v[2]) for v in variants], dtype=np.int64)
    return _lift(starts, ref_lens, alt_lens, positions)


def _lift(starts, ref_lens, alt_lens, positions):
    positions = np.asarray(positions, dtype=np.int64)
    if starts.size == 0:
        return positions.copy()
    delta = alt_lens - ref_lens
    before = np.concatenate([[0], np.cumsum(delta)[:-1]])
    q = starts + before  # consensus start of each ALT allele
    i = np.searchsorted(q, positions, side="right") - 1
    out = positions.copy()
    has = i >= 0
    ii = i[has]
    off = positions[has] - q[ii]
    inside = off < alt_lens[ii]
    out[has] = np.where(inside, starts[ii] + np.minimum(off, ref_lens[ii] - 1), positions[has] - before[ii] - delta[ii])
    return out


# --------------------------------------------------------------------------- reference


def _background(rng, n):
    return rng.choice(4, size=n, p=_BG_P).astype(np.uint8)


def _scrub(rng, tokens):
    """Change one base of every motif hit until none is left (in place)."""
    for _ in range(20):
        hits = np.concatenate(motif_hits(tokens, ACTIVATING_MOTIFS + REPRESSIVE_MOTIFS))
        if hits.size == 0:
            return tokens
        pos = hits + rng.integers(0, MOTIF_LEN, hits.size)
        tokens[pos] = (tokens[pos] + rng.integers(1, 4, hits.size).astype(np.uint8)) % 4
    raise RuntimeError("could not scrub motifs from background sequence")


def _plan_gene(rng, cls, scale):
    """Planted motifs of one gene as offsets from its TSS along transcription.

    Returns (elements, n_core, lo, hi): elements are ``[offset, motif, near_index]``
    with ``near_index`` -1 for an exact motif, the first ``n_core`` of them the
    promoter cluster; ``[lo, hi)`` is the gene's slot.
    """
    elements, n_core = [], 0
    if cls in ("H3K4me3", "near_H3K4me3"):
        n = 2 if cls == "near_H3K4me3" or rng.random() < 0.6 else 3
        o = -int(rng.integers(260, 301))
        for i in range(n):
            elements.append([o, ACTIVATING_MOTIFS[rng.integers(len(ACTIVATING_MOTIFS))], -1])
            o += int(rng.integers(30, 101))
        n_core = n
        lo, hi = -700, 700
    elif cls in ("H3K27me3", "near_H3K27me3"):
        n = n_core = 3 if cls == "near_H3K27me3" or rng.random() < 0.6 else 4
        o = -int(rng.integers(250, 321))
        for i in range(n):
            elements.append([o, REPRESSIVE_MOTIFS[rng.integers(len(REPRESSIVE_MOTIFS))], -1])
            o += int(rng.integers(100, 151))
        o += int(rng.integers(1150, 1251)) - int(rng.integers(100, 151))
        for i in range(int(rng.integers(scale.k27_spread[0], scale.k27_spread[1] + 1))):
            elements.append([o, REPRESSIVE_MOTIFS[rng.integers(len(REPRESSIVE_MOTIFS))], -1])
            o += int(rng.integers(650, 1001))
        lo, hi = elements[0][0] - K27_PAD - 20, elements[-1][0] + MOTIF_LEN + K27_PAD + 20
    else:
        if rng.random() < 0.5:
            elements.append([-int(rng.integers(100, 301)), ACTIVATING_MOTIFS[rng.integers(len(ACTIVATING_MOTIFS))], -1])
        lo, hi = -400, 600
    if cls.startswith("near_"):
        elements[int(rng.integers(0, n_core))][2] = int(rng.integers(1, MOTIF_LEN - 1))
    return elements, n_core, lo, hi


def _build_reference(rng, scale):
    """Reference sequences (ASCII bytes with soft-masking) and its genes."""
    families = []
    for _ in range(4):
        fam = _background(rng, int(rng.integers(*scale.repeat_len)))
        families.append(_scrub(rng, fam))
    chroms, genes, protected = {}, [], {}
    for c in range(1, scale.n_chroms + 1):
        name = f"Chr{c}"
        features = []
        for cls, (lo_n, hi_n) in scale.genes.items():
            features += [("gene", cls)] * int(rng.integers(lo_n, hi_n + 1))
        features += [("gap", None)] * scale.n_gaps + [("repeat", None)] * scale.n_repeats
        features = [features[i] for i in rng.permutation(len(features))]
        planned = []
        for kind, cls in features:
            if kind == "gene":
                elements, n_core, lo, hi = _plan_gene(rng, cls, scale)
                planned.append((kind, cls, hi - lo, (elements, n_core, lo, hi, "+" if rng.random() < 0.5 else "-")))
            elif kind == "gap":
                planned.append((kind, None, int(rng.integers(*scale.gap_len)), None))
            else:
                fam = families[rng.integers(len(families))]
                n = max(50, int(len(fam) * rng.uniform(0.6, 1.0)))
                copy = fam[:n].copy()
                mut = rng.random(n) < 0.05
                copy[mut] = (copy[mut] + rng.integers(1, 4, int(mut.sum())).astype(np.uint8)) % 4
                planned.append((kind, None, n, _scrub(rng, copy)))
        used = sum(p[2] for p in planned)
        target = int(rng.integers(*scale.chrom_len))
        spare = max(target - used - 2 * scale.end_spacer, 20 * (len(planned) - 1))
        inner = np.floor(rng.dirichlet(np.ones(max(len(planned) - 1, 1))) * spare).astype(int)
        spacers = [scale.end_spacer] + list(np.maximum(inner, 20))[: len(planned) - 1] + [scale.end_spacer]
        for i in range(len(planned) - 1):  # keep neighbouring H3K27me3 domains apart (unlinked)
            if all(p[0] == "gene" and p[1].endswith("H3K27me3") for p in planned[i : i + 2]):
                spacers[i + 1] = max(spacers[i + 1], K27_LINK - 2 * K27_PAD)
        length = used + sum(spacers)
        tokens = _scrub(rng, _background(rng, length))
        lower = np.zeros(length, dtype=bool)
        prot = np.zeros(length, dtype=bool)
        pos = spacers[0]
        for i, (kind, cls, size, data) in enumerate(planned):
            if kind == "gap":
                tokens[pos : pos + size] = N_TOKEN
            elif kind == "repeat":
                tokens[pos : pos + size] = data
                lower[pos : pos + size] = True
            else:
                elements, n_core, lo, hi, strand = data
                tss = pos - lo if strand == "+" else pos + hi
                starts, core, nears, placed = [], [], [], []
                for k, (off, motif, near) in enumerate(elements):
                    word = motif if near < 0 else motif[:near] + "ACGT"[("ACGT".index(motif[near]) + 1) % 4] + motif[near + 1 :]
                    if strand == "+":
                        p = tss + off
                        tokens[p : p + MOTIF_LEN] = encode(word)
                        if near >= 0:
                            nears.append((p + near, motif[near]))
                    else:
                        p = tss - off - MOTIF_LEN
                        tokens[p : p + MOTIF_LEN] = encode(_rc(word))
                        if near >= 0:
                            nears.append((p + MOTIF_LEN - 1 - near, _COMP[motif[near]]))
                    prot[max(p - 20, 0) : p + MOTIF_LEN + 20] = True
                    placed.append(p)
                    if near < 0:
                        starts.append(p)
                        if k < n_core:
                            core.append(p)
                # no random variant inside a promoter cluster (nor up to the first spreading motif)
                zone = placed[: n_core + 1]
                if zone:
                    prot[max(min(zone) - 20, 0) : max(zone) + MOTIF_LEN + 20] = True
                genes.append(dict(
                    gene=f"LOC_Os{c:02d}g{10 * (len(genes) + 1):05d}", chrom=name, start=pos, end=pos + size,
                    strand=strand, tss=tss, cls=cls, motif_starts=sorted(starts), core_starts=sorted(core), near=nears,
                ))
            pos += size + spacers[i + 1]
        seq = _BASES[tokens]
        seq[lower & (tokens < N_TOKEN)] += 32
        chroms[name] = seq
        protected[name] = prot
    scaffold = _scrub(rng, _background(rng, 600))
    seq = _BASES[scaffold]
    seq[200:350] += 32
    chroms["ChrUn_scaffold1"] = seq
    protected["ChrUn_scaffold1"] = np.zeros(600, dtype=bool)
    return chroms, genes, protected


def _tokens(seqs):
    return {c: encode(s) for c, s in seqs.items()}


# --------------------------------------------------------------------------- population


@dataclass
class _Sites:
    """Every variant of the panel, sorted by (chromosome, start); none overlap."""

    chrom: np.ndarray  # chromosome index
    start: np.ndarray  # 0-based start of REF
    ref: list
    alt: list
    kind: np.ndarray  # 0/1 subpopulation, 2 private
    fmask: np.ndarray  # founder bits (subpopulation sites)
    owner: np.ndarray  # line index (private sites), else -1
    block: np.ndarray  # haplotype block index
    event: np.ndarray  # gene index for planted motif-changing sites, else -1
    effect: list  # "lost"/"gained"/"" per site


def _random_alleles(rng, start_pos, L):
    """Type (0 SNP, 1 insertion, 2 deletion), indel size and REF span of candidates."""
    n = start_pos.size
    kind = rng.choice(3, size=n, p=[0.85, 0.075, 0.075])
    size = np.minimum(rng.geometric(0.25, size=n), 20)
    start = np.where(kind == 0, start_pos, start_pos - 1)
    end = np.where(kind == 2, start_pos + size, np.where(kind == 1, start_pos, start_pos + 1))
    return kind, size, start, np.minimum(end, L)


def _make_sites(rng, ref, genes, protected, lines, scale, event_plan):
    names = list(ref)
    rows = []  # (chrom, start, ref, alt, kind, fmask, owner, event, effect)
    block_starts, n_blocks = {}, 0
    masks = np.array([1, 2, 4, 3, 5, 6])
    mask_p = np.array([0.22, 0.22, 0.22, 0.11, 0.11, 0.12])
    gene_index = {id(g): i for i, g in enumerate(genes)}
    for ci, name in enumerate(names):
        seq = ref[name]
        L = len(seq)
        upper = seq & ~np.uint8(32)
        bounds = [0]
        while bounds[-1] < L:
            bounds.append(bounds[-1] + int(rng.integers(*scale.block_len)))
        block_starts[name] = (n_blocks, np.array(bounds[:-1]))
        n_blocks += len(bounds) - 1
        cand, cat = [], []
        for sp in (0, 1):
            for level, dens in enumerate(_DENSITY[sp]):
                k = rng.poisson(L * dens)
                cand.append(rng.integers(1, max(L - 25, 2), k))
                cat.append(np.full(k, 2 * sp + level))  # 0,1 japonica; 2,3 indica
        for li in range(len(lines)):
            k = rng.poisson(L * _PRIVATE_DENSITY)
            cand.append(rng.integers(1, max(L - 25, 2), k))
            cat.append(np.full(k, 4 + li))
        cand, cat = np.concatenate(cand), np.concatenate(cat)
        order = np.argsort(cand, kind="stable")
        cand, cat = cand[order], cat[order]
        vkind, size, start, end = _random_alleles(rng, cand, L)
        blocked = protected[name] | (upper == ord("N"))
        cum = np.concatenate([[0], np.cumsum(blocked)])
        free = (cum[end] - cum[np.maximum(start, 0)]) == 0
        free &= (cum[np.minimum(end + 1, L)] - cum[np.maximum(start - 1, 0)]) == 0
        last_end = -2
        for i in range(cand.size):
            if not free[i] or start[i] <= last_end:
                continue
            s, e = int(start[i]), int(end[i])
            r = upper[s:e].tobytes().decode()
            if vkind[i] == 0:
                alt = "ACGT"[("ACGT".index(r) + int(rng.integers(1, 4))) % 4]
            elif vkind[i] == 1:
                alt = r + "".join("ACGT"[b] for b in _background(rng, int(size[i])))
            else:
                alt = r[0]
            c = int(cat[i])
            if c < 4:
                kind, fmask, owner = c // 2, (7 if c % 2 == 0 else int(rng.choice(masks, p=mask_p))), -1
            else:
                kind, fmask, owner = 2, 0, c - 4
            rows.append((ci, s, r, alt, kind, fmask, owner, -1, ""))
            last_end = e
    # planted motif-changing SNPs (inside protected zones, so they overlap nothing)
    name_index = {n: i for i, n in enumerate(names)}
    for g, pos, alt, effect, kind, fmask, owner in event_plan:
        r = chr(ref[g["chrom"]][pos] & 0xDF)
        rows.append((name_index[g["chrom"]], pos, r, alt, kind, fmask, owner, gene_index[id(g)], effect))
    rows.sort(key=lambda row: (row[0], row[1]))
    chrom = np.array([r[0] for r in rows], dtype=np.int64)
    start = np.array([r[1] for r in rows], dtype=np.int64)
    block = np.empty(len(rows), dtype=np.int64)
    for ci, name in enumerate(names):
        sel = chrom == ci
        off, b = block_starts[name]
        block[sel] = off + np.searchsorted(b, start[sel], side="right") - 1
    return _Sites(
        chrom=chrom, start=start, ref=[r[2] for r in rows], alt=[r[3] for r in rows],
        kind=np.array([r[4] for r in rows], dtype=np.int64), fmask=np.array([r[5] for r in rows], dtype=np.int64),
        owner=np.array([r[6] for r in rows], dtype=np.int64), block=block,
        event=np.array([r[7] for r in rows], dtype=np.int64), effect=[r[8] for r in rows],
    ), n_blocks


def _plan_events(rng, genes, ref, n_lines, first_variety):
    """Motif-changing SNPs: ``(gene, pos, alt, effect, kind, fmask, owner)``."""
    plan, private = [], []
    for g in genes:
        cls = g["cls"]
        threshold = (cls == "H3K4me3" and len(g["core_starts"]) == K4_MIN) or (
            cls == "H3K27me3" and len(g["core_starts"]) == K27_MIN
        )
        if cls.startswith("near_"):
            pos, alt = g["near"][0]
            effect = "gained"
        elif threshold and rng.random() < 0.6:
            p = int(g["core_starts"][rng.integers(len(g["core_starts"]))])
            pos = p + int(rng.integers(0, MOTIF_LEN))
            r = chr(ref[g["chrom"]][pos] & 0xDF)
            alt = "ACGT"[("ACGT".index(r) + int(rng.integers(1, 4))) % 4]
            effect = "lost"
        else:
            continue
        if rng.random() < 0.5:
            private.append((g, pos, alt, effect))
        else:
            plan.append((g, pos, alt, effect, int(rng.integers(2)), int(1 << rng.integers(_N_FOUNDERS)), -1))
    # private events: varieties first, so each variety gets one where possible
    owners = list(range(first_variety, n_lines)) + list(range(first_variety))
    for i, (g, pos, alt, effect) in enumerate(private):
        plan.append((g, pos, alt, effect, 2, 0, owners[i % len(owners)]))
    return plan


def _line_variants(sites, line, subpop, choice):
    """Boolean mask of the sites a line carries (haplotype mosaic + private)."""
    hap = (sites.kind == subpop) & (((sites.fmask >> choice[sites.block]) & 1) == 1)
    return hap | ((sites.kind == 2) & (sites.owner == line))


# --------------------------------------------------------------------------- writers


def _write_text(path, text, compress=False):
    with atomic_path(path) as tmp:
        if compress:
            with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as fh:
                fh.write(text.encode())
        else:
            tmp.write_text(text)


def _write_bed(path, intervals):
    _write_text(path, "".join(f"{c}\t{s}\t{e}\n" for c, s, e in intervals))


def _peaks(rng, intervals, sizes, mark, name):
    """Noisy peak calls from true intervals (own coordinates)."""
    rows = []
    for c, s, e in intervals:
        if rng.random() < 0.1:
            continue  # missed
        s2 = s + int(np.clip(rng.normal(0, 50), -150, 150))
        e2 = e + int(np.clip(rng.normal(0, 50), -150, 150))
        s2, e2 = max(s2, 0), min(e2, sizes[c])
        if e2 - s2 < 100:
            s2, e2 = s, e
        rows.append((c, s2, e2, rng.lognormal(2.3, 0.4)))
    chroms = [c for c in sizes if sizes[c] > 3000]
    weights = np.array([sizes[c] for c in chroms], dtype=float)
    for _ in range(1 + rng.poisson(0.05 * len(intervals))):
        c = chroms[rng.choice(len(chroms), p=weights / weights.sum())]
        n = int(rng.integers(300, 800) if mark == "H3K4me3" else rng.integers(1000, 3000))
        s = int(rng.integers(0, sizes[c] - n))
        rows.append((c, s, s + n, rng.lognormal(1.2, 0.3)))
    order = {c: i for i, c in enumerate(sizes)}
    rows.sort(key=lambda r: (order[r[0]], r[1], r[2]))
    lines = []
    for i, (c, s, e, signal) in enumerate(rows):
        p = 2.0 + 3.0 * signal + rng.exponential(1.0)
        q = max(p - 1.5 - rng.exponential(0.5), 0.0)
        score = min(1000, int(40 * signal))
        fields = [c, s, e, f"{name}_peak{i + 1}", score, ".", f"{signal:.3f}", f"{p:.3f}", f"{q:.3f}"]
        if mark == "H3K4me3":
            fields.append(int(rng.integers(0, e - s)))
        lines.append("\t".join(map(str, fields)) + "\n")
    return "".join(lines)


def _write_bam(path, seqs, starts_by_chrom, rng):
    import pysam

    names = list(seqs)
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": c, "LN": len(seqs[c])} for c in names]}
    qual = pysam.qualitystring_to_array("F" * 100)
    n = 0
    with atomic_path(path, suffix=".bam") as tmp, pysam.AlignmentFile(str(tmp), "wb", header=header) as out:
        for tid, c in enumerate(names):
            upper = seqs[c] & ~np.uint8(32)
            for pos in np.sort(starts_by_chrom.get(c, np.empty(0, np.int64))):
                a = pysam.AlignedSegment()
                n += 1
                a.query_name = f"{path.stem}.{n}"
                a.query_sequence = upper[pos : pos + 100].tobytes().decode()
                a.flag = 16 if rng.random() < 0.5 else 0
                a.reference_id = tid
                a.reference_start = int(pos)
                a.mapping_quality = 60
                a.cigartuples = [(0, 100)]
                a.query_qualities = qual
                out.write(a)
    pysam.index(str(path))
    return n


def _read_starts(rng, seqs, n, intervals=None):
    """Read starts uniform over the genome, or within ``intervals``; no N in a read."""
    names = [c for c in seqs if len(seqs[c]) > 100]
    if intervals is None:
        weights = np.array([len(seqs[c]) - 100 for c in names], dtype=float)
        chrom = rng.choice(len(names), size=n, p=weights / weights.sum())
        pos = (rng.random(n) * (weights[chrom] + 1)).astype(np.int64)
    else:
        ivs = [(names.index(c), s, e) for c, s, e in intervals if c in names]
        lens = np.array([e - s for _, s, e in ivs], dtype=float)
        pick = rng.choice(len(ivs), size=n, p=lens / lens.sum())
        chrom = np.array([ivs[i][0] for i in pick])
        lo = np.array([ivs[i][1] for i in pick]) - 50
        pos = lo + (rng.random(n) * lens[pick]).astype(np.int64)
        maxpos = np.array([len(seqs[names[c]]) - 100 for c in chrom])
        pos = np.clip(pos, 0, maxpos)
    out = {}
    for ci, c in enumerate(names):
        p = pos[chrom == ci]
        cum = np.concatenate([[0], np.cumsum((seqs[c] & ~np.uint8(32)) == ord("N"))])
        out[c] = p[(cum[p + 100] - cum[p]) == 0]
    return out


def _write_vcf(path, ref, sites, carried, samples, rng):
    """Multi-sample VCF of the sites any sample carries; bgzip + tabix via pysam."""
    import pysam

    header = pysam.VariantHeader()
    header.add_line("##source=ntpipe.simulate")
    for c, s in ref.items():
        header.contigs.add(c, length=len(s))
    header.add_line('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
    for s in samples:
        header.add_sample(s)
    any_carried = np.any(carried, axis=0)
    idx = np.flatnonzero(any_carried)
    gt = np.where(carried[:, idx], "1/1", "0/0").astype(object)
    for k in range(len(samples)):
        yes = np.flatnonzero(carried[k, idx])
        no = np.flatnonzero(~carried[k, idx])
        for pool, code in ((yes, "0/1"), (no, "./.")):
            if pool.size:
                pick = rng.choice(pool, size=min(pool.size, max(2, int(0.003 * pool.size))), replace=False)
                gt[k, pick] = code
    names = list(ref)
    lines = [str(header)]
    for j, i in enumerate(idx):
        lines.append(
            f"{names[sites.chrom[i]]}\t{sites.start[i] + 1}\t.\t{sites.ref[i]}\t{sites.alt[i]}\t.\tPASS\t.\tGT\t"
            + "\t".join(gt[:, j]) + "\n"
        )
    plain = path.with_name(path.name[: -len(".gz")])
    plain.write_text("".join(lines))
    pysam.tabix_index(str(plain), preset="vcf", force=True)
    return int(idx.size), {s: (int(np.sum(gt[k] == "0/1")), int(np.sum(gt[k] == "./."))) for k, s in enumerate(samples)}


# --------------------------------------------------------------------------- driver


def _intervals_by_chrom(intervals):
    out = {}
    for c, s, e in intervals:
        out.setdefault(c, ([], []))
        out[c][0].append(s)
        out[c][1].append(e)
    return {c: (np.array(s, np.int64), np.array(e, np.int64)) for c, (s, e) in out.items()}


def _overlapping(ivs, chrom, start, end):
    s, e = ivs.get(chrom, (np.empty(0, np.int64), np.empty(0, np.int64)))
    hit = (s < end) & (e > start)
    return [(int(a), int(b)) for a, b in zip(s[hit], e[hit])]


def simulate(out, seed=1, scale="demo", n_varieties=None):
    """Write the synthetic panel (see the module docstring) and return ``out``.

    Parameters
    ----------
    out : output directory (created); sheet paths are ``os.path.join(out, ...)``
        with ``out`` as given, so they work from the caller's directory.
    seed : int; the same seed gives byte-identical files.
    scale : ``"demo"`` (12 x ~90 kb, 6 varieties), ``"test"`` (10 x ~9.5 kb,
        3 varieties) or ``"panel"`` (demo genome, 50 varieties, nearly all VCF).
    n_varieties : number of prediction varieties (default per scale).

    Returns
    -------
    pathlib.Path of ``out``.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}, got {scale!r}")
    if n_varieties is not None and (int(n_varieties) != n_varieties or n_varieties < 1):
        raise ValueError(f"n_varieties must be a positive integer, got {n_varieties!r}")
    t0 = time.perf_counter()
    sc = SCALES[scale]
    n_var = sc.n_varieties if n_varieties is None else int(n_varieties)
    n_fasta = min(sc.n_fasta_varieties, max(n_var - 1, 0)) if n_var > 1 else n_var
    out_given = str(out)
    out = Path(out)
    for sub in ("cultivars", "varieties", "peaks", "bam", "truth"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for sheet in ("training.tsv", "varieties.tsv"):
        (out / sheet).unlink(missing_ok=True)
    rng_ref, rng_pop, rng_peaks, rng_reads, rng_vcf = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5))

    ref, genes, protected = _build_reference(rng_ref, sc)
    write_fasta(out / "reference.fa", {c: s.tobytes().decode() for c, s in ref.items()})
    ref_truth = true_marks(_tokens(ref))
    for mark in MARKS:
        _write_bed(out / "truth" / f"reference.{mark}.bed", ref_truth[mark])
    _write_genes(out / "truth" / "genes.tsv", genes)

    cultivars = [(f"CV{i:02d}", 0 if i <= 10 else 1) for i in range(1, 21)]
    varieties = [(f"IRIS_313-{10001 + i}", i % 2) for i in range(n_var)]
    lines = cultivars + varieties
    event_plan = _plan_events(rng_pop, genes, ref, len(lines), len(cultivars))
    sites, n_blocks = _make_sites(rng_pop, ref, genes, protected, lines, sc, event_plan)
    choice = rng_pop.integers(0, _N_FOUNDERS, size=(len(lines), n_blocks))
    alts_u8 = [np.frombuffer(a.encode(), dtype=np.uint8) for a in sites.alt]
    ref_lens = np.array([len(r) for r in sites.ref], dtype=np.int64)
    alt_lens = np.array([len(a) for a in sites.alt], dtype=np.int64)
    names = list(ref)
    ref_ivs = {m: _intervals_by_chrom(ref_truth[m]) for m in MARKS}

    def build(li):
        mask = _line_variants(sites, li, lines[li][1], choice[li])
        seqs, applied = {}, {}
        for ci, c in enumerate(names):
            sel = np.flatnonzero(mask & (sites.chrom == ci))
            applied[c] = sel
            seqs[c] = _consensus(ref[c], sites.start[sel], ref_lens[sel], [alts_u8[i] for i in sel])
        return mask, seqs, applied

    cultivar_truth, n_vars = {}, []
    for li, (name, _) in enumerate(cultivars):
        mask, seqs, _ = build(li)
        n_vars.append(int(mask.sum()))
        write_fasta(out / "cultivars" / f"{name}.fa", {c: s.tobytes().decode() for c, s in seqs.items()})
        truth = true_marks(_tokens(seqs))
        cultivar_truth[name] = truth
        sizes = {c: len(s) for c, s in seqs.items()}
        for mark in MARKS:
            _write_bed(out / "truth" / f"{name}.{mark}.bed", truth[mark])
            ext = "narrowPeak" if mark == "H3K4me3" else "broadPeak"
            gz = name == "CV02" and mark == "H3K4me3"
            path = out / "peaks" / f"{name}.{mark}.{ext}{'.gz' if gz else ''}"
            _write_text(path, _peaks(rng_peaks, truth[mark], sizes, mark, f"{name}.{mark}"), compress=gz)
        if name == "CV01":
            chip = _read_starts(rng_reads, seqs, int(sc.reads[0] * 0.4))
            enriched = _read_starts(rng_reads, seqs, int(sc.reads[0] * 0.6), truth["H3K4me3"])
            chip = {c: np.concatenate([chip[c], enriched[c]]) for c in chip}
            n_chip = _write_bam(out / "bam" / "CV01.H3K4me3.bam", seqs, chip, rng_reads)
            n_input = _write_bam(out / "bam" / "CV01.input.bam", seqs, _read_starts(rng_reads, seqs, sc.reads[1]), rng_reads)

    events, vcf_samples, vcf_masks = [], [], []
    for k, (name, _) in enumerate(varieties):
        li = len(cultivars) + k
        mask, seqs, applied = build(li)
        n_vars.append(int(mask.sum()))
        if k < n_fasta:
            write_fasta(out / "varieties" / f"{name}.fa", {c: s.tobytes().decode() for c, s in seqs.items()})
        else:
            vcf_samples.append(name)
            vcf_masks.append(mask)
        truth = true_marks(_tokens(seqs))
        lifted = {}
        for mark in MARKS:
            _write_bed(out / "truth" / f"{name}.{mark}.bed", truth[mark])
            rows = []
            for c, s, e in truth[mark]:
                sel = applied[c]
                rs, re_ = _lift(sites.start[sel], ref_lens[sel], alt_lens[sel], np.array([s, e - 1]))
                rows.append((c, int(rs), min(int(re_) + 1, len(ref[c]))))
            lifted[mark] = rows
            _write_bed(out / "truth" / f"{name}.{mark}.ref.bed", rows)
        events += _verify_events(name, sites, mask, genes, names, ref_ivs, {m: _intervals_by_chrom(lifted[m]) for m in MARKS})

    n_records, gt_noise = 0, {}
    if vcf_samples:
        n_records, gt_noise = _write_vcf(out / "varieties.vcf.gz", ref, sites, np.array(vcf_masks), vcf_samples, rng_vcf)
    _write_text(
        out / "events.tsv",
        "variety\tchrom\tref_pos\tmark\teffect\tref_start\tref_end\n" + "".join("\t".join(map(str, r)) + "\n" for r in events),
    )
    _write_sheets(out, out_given, cultivars, varieties, n_fasta)

    total = sum(len(s) for s in ref.values())
    log.info(
        "simulated %s panel (seed %d) in %s: reference %d bp in %d sequences, %d genes, %d H3K4me3 / %d H3K27me3 "
        "reference intervals, %d cultivars, %d varieties (%d FASTA, %d in a VCF of %d records), %d-%d variants per line, "
        "%d events, %d+%d reads, %.1f s",
        scale, seed, out_given, total, len(ref), len(genes), len(ref_truth["H3K4me3"]), len(ref_truth["H3K27me3"]),
        len(cultivars), len(varieties), n_fasta, len(vcf_samples), n_records, min(n_vars), max(n_vars), len(events),
        n_chip, n_input, time.perf_counter() - t0,
    )
    return out


def _verify_events(name, sites, mask, genes, names, ref_ivs, var_ivs):
    """Rows of events.tsv for a variety: planted sites it carries whose effect shows in its truth."""
    rows = []
    for i in np.flatnonzero(mask & (sites.event >= 0)):
        g = genes[sites.event[i]]
        mark = g["cls"].replace("near_", "")
        chrom, pos = names[sites.chrom[i]], int(sites.start[i])
        if sites.effect[i] == "lost":
            hit = _overlapping(ref_ivs[mark], chrom, pos, pos + 1)
            if len(hit) == 1 and not _overlapping(var_ivs[mark], chrom, *hit[0]):
                rows.append((name, chrom, pos, mark, "lost", *hit[0]))
        else:
            hit = _overlapping(var_ivs[mark], chrom, pos, pos + 1)
            if len(hit) == 1 and not _overlapping(ref_ivs[mark], chrom, *hit[0]):
                rows.append((name, chrom, pos, mark, "gained", *hit[0]))
    return rows


def _write_genes(path, genes):
    rows = ["gene\tchrom\tstart\tend\tstrand\ttss\tclass\tcore_starts\tmotif_starts\n"]
    for g in genes:
        rows.append(
            f"{g['gene']}\t{g['chrom']}\t{g['start']}\t{g['end']}\t{g['strand']}\t{g['tss']}\t{g['cls']}\t"
            + ",".join(map(str, g["core_starts"])) + "\t" + ",".join(map(str, g["motif_starts"])) + "\n"
        )
    _write_text(path, "".join(rows))


def _write_sheets(out, out_given, cultivars, varieties, n_fasta):
    j = lambda *p: os.path.join(out_given, *p)  # noqa: E731
    rows = ["cultivar\tmark\tgenome\tpeaks\tbam\tcontrol\n"]
    for name, _ in cultivars:
        for mark in MARKS:
            genome = j("cultivars", f"{name}.fa")
            if name == "CV01" and mark == "H3K4me3":
                rows.append(f"{name}\t{mark}\t{genome}\t\t{j('bam', 'CV01.H3K4me3.bam')}\t{j('bam', 'CV01.input.bam')}\n")
            else:
                ext = "narrowPeak" if mark == "H3K4me3" else "broadPeak"
                gz = ".gz" if name == "CV02" and mark == "H3K4me3" else ""
                rows.append(f"{name}\t{mark}\t{genome}\t{j('peaks', f'{name}.{mark}.{ext}{gz}')}\t\t\n")
    _write_text(out / "training.tsv", "".join(rows))
    rows = ["variety\tgenome\tvcf\tsample\n"]
    for k, (name, _) in enumerate(varieties):
        if k < n_fasta:
            rows.append(f"{name}\t{j('varieties', f'{name}.fa')}\t\t\n")
        else:
            rows.append(f"{name}\t\t{j('varieties.vcf.gz')}\t{name}\n")
    _write_text(out / "varieties.tsv", "".join(rows))
