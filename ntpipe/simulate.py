"""Synthetic rice-like panel with a known, position-dependent grammar (numpy + pysam, no torch).

:func:`simulate` writes, into one directory, everything the workflow consumes
(reference, 20 training cultivars with peaks or reads, prediction varieties as
FASTA or as samples of one VCF, sample sheets) and the ground truth to score it.

Grammar
-------
The truth of any genome is :func:`ntpipe.grammar.true_marks` of its own
sequence (see :mod:`ntpipe.grammar`: a TATA box and initiator fix a TSS and
strand; activating motifs at -300..-60 on the gene's strand give H3K4me3 over
-200..+1000; a repressive nucleation site near the TSS silences it and spreads
H3K27me3 over the gene body; the same motifs elsewhere do nothing).

Genes are planted at the threshold, above it, or one base short of it
(``near_*``: a 1-mismatch copy of an activating or repressive motif or of the
TATA box), with decoys at every gene (activating motifs in the gene body,
reversed or too far upstream; repressive motifs in the body or too few) and
intergenic decoy clusters (activating pairs, repressive clusters, half core
promoters). ``none`` genes are core promoters that miss the threshold by
position or orientation. Variants that destroy a required element (an
activating or repressive motif at the threshold, the TATA box or initiator:
``lost``) or complete a near-copy (``gained``) are planted in subpopulation
haplotypes and privately, so varieties differ in their true marks; each row
of ``events.tsv`` is checked against the variety's truth.

Population
----------
Two subpopulations ("japonica-like", close to the reference, and
"indica-like"), each with 3 founder haplotypes per block (20-50 kb at demo
scale); every line picks one founder per block and adds a few private
variants (about 1 per 20 kb). Variants are SNPs and 1-20 bp indels written in
VCF style (indels anchored on the preceding base); no two variants of the panel
overlap, and none falls in a planted promoter (-520..+510 around a TSS) but
the planted events. Consensus sequences keep the reference's soft-masking case.

VCF rules (``varieties.vcf.gz``, ``cultivars.vcf.gz``): REF and ALT are
uppercase and REF matches the reference; ``1/1`` applies ALT; a few calls are
heterozygous ``0/1``, which also applies ALT (the documented rule: a het call
uses its ALT allele); a few are missing ``./.``, which keeps the reference.
The simulator's own consensus (used for the truth) follows exactly these rules.

Reference-mapped cultivars
--------------------------
:data:`REFERENCE_MAPPED` cultivars' ChIP-seq is reported on the reference's
coordinates, as a lab aligning to Nipponbare would: their training rows give
``cultivars.vcf.gz`` and a sample instead of a genome, and their peaks (drawn
on their own sequence exactly as for the others, then lifted with
:func:`lift_to_reference`, summits included) and reads (CV13's H3K4me3 ChIP
and input, drawn on its own sequence and aligned at their lifted positions)
are on the reference. Their own FASTA and truth are written as for every
cultivar, and their truth lifted to the reference too.

Layout (paths inside ``out``)
-----------------------------
``reference.fa``; ``cultivars/CVxx.fa``; ``cultivars.vcf.gz`` (+ ``.tbi``: the
reference-mapped cultivars); ``varieties/NAME.fa`` (FASTA varieties);
``varieties.vcf.gz`` (+ ``.tbi``); ``peaks/CVxx.H3K4me3.narrowPeak`` (CV02's
gzipped) and ``peaks/CVxx.H3K27me3.broadPeak``; ``bam/CVxx.H3K4me3.bam`` and
``bam/CVxx.input.bam`` (+ ``.bai``; CV01 on its own genome, CV13 on the
reference); ``truth/{reference,NAME}.MARK.bed`` (own
coordinates), ``truth/NAME.MARK.ref.bed`` (varieties and reference-mapped
cultivars, lifted to the reference),
``truth/genes.tsv`` and ``truth/genes.gff3`` (planted genes of the reference;
GFF3 gene features, 1-based, the TSS at the gene's start on ``+`` and at its
end on ``-``); ``events.tsv`` (with ``cultivars``: how many training
cultivars carry the same variant); and, written last, ``training.tsv`` and
``varieties.tsv``.
"""

import gzip
import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .encoding import N_TOKEN, encode
from .files import atomic_path
from .genome import write_fasta
from .grammar import (
    ACTIVATING_MOTIFS,
    CORE_LEN,
    INITIATOR,
    INITIATOR_OFFSET,
    K4_CUE,
    K4_MIN,
    K4_SPAN,
    K27_BASE,
    K27_CUE,
    K27_MIN,
    K27_STEP,
    MARKS,
    MOTIF_LEN,
    REPRESSIVE_MOTIFS,
    TATA_BOX,
    TATA_OFFSET,
    COMPLEMENT,
    core_promoters,
    gene_spans,
    motif_hits,
    rc,
    silenced,
    to_genome,
    true_marks,
)

__all__ = ["SCALES", "apply_variants", "lift_to_reference", "REFERENCE_MAPPED", "panel_files", "simulate"]  # the grammar: ntpipe.grammar

log = logging.getLogger(__name__)

PROMOTER_ZONE = (-520, 510)  # kept free of random variants in the simulated panel
REFERENCE_MAPPED = ("CV04", "CV13", "CV17")  # cultivars whose peaks and reads are on the reference
_BAM_ROWS = ("CV01", "CV13")  # cultivars whose H3K4me3 is labelled by reads (ChIP + input), not peaks

_BASES = np.frombuffer(b"ACGTN", dtype=np.uint8)
_BG_P = np.array([0.285, 0.215, 0.215, 0.285])  # rice-like 43% GC


@dataclass(frozen=True)
class _Scale:
    n_chroms: int
    chrom_len: tuple  # target length range per chromosome
    end_spacer: int  # background kept at each chromosome end
    genes: dict  # class -> (min, max) genes per chromosome
    k27_sites: tuple  # repressive motifs at a silenced promoter (2: idle promoter)
    body_len: tuple  # gene length from the TSS, unmarked and H3K4me3 genes
    n_decoys: tuple  # intergenic decoy clusters per chromosome
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
        n_chroms=12, chrom_len=(96_000, 104_000), end_spacer=500,
        genes={"H3K4me3": (15, 17), "H3K27me3": (6, 7), "near_H3K4me3": (3, 3), "near_H3K27me3": (2, 2), "none": (5, 6)},
        k27_sites=(2, 4), body_len=(1050, 1700), n_decoys=(5, 7), n_gaps=2, gap_len=(300, 3000), n_repeats=6, repeat_len=(300, 1500),
        block_len=(20_000, 50_000), reads=(40_000, 20_000), n_varieties=6, n_fasta_varieties=2,
    ),
    "test": _Scale(
        n_chroms=10, chrom_len=(9_300, 9_500), end_spacer=30,
        genes={"H3K4me3": (2, 2), "H3K27me3": (2, 2), "near_H3K4me3": (0, 1), "near_H3K27me3": (0, 0), "none": (0, 0)},
        k27_sites=(2, 2), body_len=(1020, 1200), n_decoys=(0, 0), n_gaps=1, gap_len=(100, 300), n_repeats=1, repeat_len=(200, 300),
        block_len=(3_000, 5_000), reads=(4_000, 2_000), n_varieties=3, n_fasta_varieties=1,
    ),
}
SCALES["panel"] = replace(SCALES["demo"], n_varieties=50, n_fasta_varieties=2)


def _times(scale, k):
    """``scale`` with ``k`` times its genome: chromosome lengths, genes, decoys, gaps, repeats and reads."""
    def times(pair):
        return tuple(k * n for n in pair)

    return replace(scale, chrom_len=times(scale.chrom_len), genes={c: times(n) for c, n in scale.genes.items()},
                   n_decoys=times(scale.n_decoys), n_gaps=k * scale.n_gaps, n_repeats=k * scale.n_repeats,
                   reads=times(scale.reads))


# ~4.8 Mb: enough genes per chromosome (about 64 H3K4me3 and 26 H3K27me3) for held-out figures that mean
# something; a GPU run's panel
SCALES["large"] = _times(SCALES["demo"], 4)

# variant densities per bp: (subpopulation-wide, founder-level) and private per line
_DENSITY = {0: (1 / 3000, 1 / 800), 1: (1 / 700, 1 / 300)}
_PRIVATE_DENSITY = 1 / 20_000
_SUBPOPS = ("japonica", "indica")
_N_FOUNDERS = 3


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
    """Change one base of every motif hit and of every chance core promoter (in place).

    Lone TATA boxes and initiators stay: alone they do nothing.
    """
    for _ in range(20):
        hits = np.concatenate(motif_hits(tokens, ACTIVATING_MOTIFS + REPRESSIVE_MOTIFS))
        tss, strand = core_promoters(tokens)
        inr = to_genome(tss, strand, INITIATOR_OFFSET, CORE_LEN)
        if hits.size == 0 and inr.size == 0:
            return tokens
        pos = np.concatenate([hits + rng.integers(0, MOTIF_LEN, hits.size), inr + rng.integers(0, CORE_LEN, inr.size)])
        tokens[pos] = (tokens[pos] + rng.integers(1, 4, pos.size).astype(np.uint8)) % 4
    raise RuntimeError("could not scrub motifs from background sequence")


def _is_repressive(word):
    return word in REPRESSIVE_MOTIFS or rc(word) in REPRESSIVE_MOTIFS


class _Plan:
    """Elements of one gene or decoy cluster as offsets along it, never overlapping."""

    def __init__(self, rng):
        self.rng, self.elements = rng, []  # [offset, word, near index (-1 exact), counted]

    def put(self, lo, hi, word, near=-1, counted=False):
        for _ in range(200):
            o = int(self.rng.integers(lo, hi - len(word) + 2))
            if all(o + len(word) + 3 <= e[0] or e[0] + len(e[1]) + 3 <= o for e in self.elements):
                self.elements.append([o, word, near, counted])
                return len(self.elements) - 1
        raise RuntimeError(f"no room for {word!r} in {lo}..{hi}")

    def motifs(self, motifs, n, lo, hi, counted=False, orientation=1):
        """``n`` motifs in ``[lo, hi]`` (starts and ends), as written along the gene
        (``orientation`` 1), reversed (-1) or either (0)."""
        for _ in range(n):
            word = motifs[self.rng.integers(len(motifs))]
            if orientation < 0 or (orientation == 0 and self.rng.random() < 0.5):
                word = rc(word)
            self.put(lo, hi, word, counted=counted)

    def near(self, index):
        """Turn element ``index`` into a 1-mismatch copy of itself."""
        self.elements[index][2] = int(self.rng.integers(1, len(self.elements[index][1]) - 1))


def _plan_gene(rng, cls, scale):
    """Planted elements of one gene (see the module docstring for the classes).

    Returns (elements, required, body, lo, hi): ``elements`` as in :class:`_Plan`;
    ``required`` the indices of the elements whose loss removes the gene's
    mark; ``body`` the gene's length from its TSS; ``[lo, hi)`` its slot.
    """
    p = _Plan(rng)
    tata = p.put(TATA_OFFSET, TATA_OFFSET + CORE_LEN - 1, TATA_BOX)
    inr = p.put(INITIATOR_OFFSET, INITIATOR_OFFSET + CORE_LEN - 1, INITIATOR)
    a_lo, a_hi = K4_CUE[0], K4_CUE[1] + MOTIF_LEN - 1
    r_lo, r_hi = K27_CUE[0], K27_CUE[1] + MOTIF_LEN - 1
    n_act = n_rep = 0
    if cls in ("H3K4me3", "near_H3K4me3"):
        n_act = 2 if cls == "near_H3K4me3" or rng.random() < 0.6 else 3
        p.motifs(ACTIVATING_MOTIFS, n_act, a_lo, a_hi, counted=True)
        n_rep = int(rng.integers(0, 2 if cls == "near_H3K4me3" else 3))  # too few to silence an active promoter
        p.motifs(REPRESSIVE_MOTIFS, n_rep, r_lo, r_hi, counted=True, orientation=0)
        p.motifs(ACTIVATING_MOTIFS, int(rng.integers(0, 2)), a_lo, a_hi, orientation=-1)  # wrong orientation
        p.motifs(ACTIVATING_MOTIFS, int(rng.integers(0, 2)), PROMOTER_ZONE[0], K4_CUE[0] - 1)  # too far upstream
        if cls == "near_H3K4me3":
            counted = [i for i, e in enumerate(p.elements) if e[3] and e[1] in ACTIVATING_MOTIFS]
            p.near(tata if rng.random() < 0.3 else counted[rng.integers(len(counted))])
    elif cls in ("H3K27me3", "near_H3K27me3"):
        if cls == "near_H3K27me3":
            n_rep, n_act = K27_MIN, int(rng.integers(1, 3))
        else:
            n_rep = int(rng.integers(scale.k27_sites[0], scale.k27_sites[1] + 1))
            n_act = 0 if n_rep < K27_MIN else int(rng.integers(0, 4))  # a weak site silences an idle promoter only
        p.motifs(REPRESSIVE_MOTIFS, n_rep, r_lo, r_hi, counted=True, orientation=0)
        p.motifs(ACTIVATING_MOTIFS, n_act, a_lo, a_hi, counted=True)
        if cls == "near_H3K27me3":
            p.near(int(rng.choice([i for i, e in enumerate(p.elements) if e[3] and _is_repressive(e[1])])))
    else:  # "none": a core promoter that misses activation by position or orientation
        way = int(rng.integers(4))
        if way == 0:
            p.motifs(ACTIVATING_MOTIFS, 1, a_lo, a_hi, counted=True)
            p.motifs(ACTIVATING_MOTIFS, 1, a_lo, a_hi, orientation=-1)
            n_act = 1
        elif way == 1:
            p.motifs(ACTIVATING_MOTIFS, 2, PROMOTER_ZONE[0], K4_CUE[0] - 1)
        elif way == 2:
            p.motifs(ACTIVATING_MOTIFS, 2, a_lo, a_hi, orientation=-1)
        else:
            p.motifs(ACTIVATING_MOTIFS, 2, 60, 400)  # just downstream of the TSS
        n_rep = int(rng.integers(0, 2))
        p.motifs(REPRESSIVE_MOTIFS, n_rep, r_lo, r_hi, counted=True, orientation=0)
    if cls.endswith("H3K27me3"):
        body = K27_BASE + K27_STEP * n_rep + int(rng.integers(0, 101))
    else:
        body = int(rng.integers(scale.body_len[0], scale.body_len[1] + 1))
    # decoys in the gene body: activating motifs either way, repressive motifs beyond the nucleation window
    p.motifs(ACTIVATING_MOTIFS, int(rng.integers(0, 3)), 60, body - 10, orientation=0)
    p.motifs(REPRESSIVE_MOTIFS, int(rng.integers(0, 2)), K27_CUE[1] + 30, body - 10, orientation=0)
    required = [tata, inr]
    if cls == "H3K4me3" and n_act == K4_MIN:
        required += [i for i, e in enumerate(p.elements) if e[3] and e[1] in ACTIVATING_MOTIFS]
    if cls == "H3K27me3" and not silenced(n_act, n_rep - 1):
        required += [i for i, e in enumerate(p.elements) if e[3] and _is_repressive(e[1])]
    return p.elements, required, body, PROMOTER_ZONE[0] - 20, max(body, K4_SPAN[1]) + 10


def _plan_decoy(rng):
    """An intergenic decoy cluster: elements that would mark under a position-free rule.

    Returns (elements, lo, hi) as offsets from an anchor read on one strand.
    """
    p = _Plan(rng)
    kind = int(rng.integers(3))
    if kind == 0:  # activating motifs close together on one strand, no core promoter
        p.motifs(ACTIVATING_MOTIFS, int(rng.integers(2, 4)), 0, 300)
    elif kind == 1:  # a dense repressive cluster far from any promoter
        p.motifs(REPRESSIVE_MOTIFS, int(rng.integers(3, 5)), 0, 900, orientation=0)
    else:  # half a core promoter with an activating cue
        p.put(*((TATA_OFFSET, TATA_OFFSET + CORE_LEN - 1, TATA_BOX) if rng.random() < 0.5
                else (INITIATOR_OFFSET, INITIATOR_OFFSET + CORE_LEN - 1, INITIATOR)))
        p.motifs(ACTIVATING_MOTIFS, 2, K4_CUE[0], K4_CUE[1] + MOTIF_LEN - 1)
    return p.elements, -320, 940


def _near_word(word, near):
    return word if near < 0 else word[:near] + "ACGT"[("ACGT".index(word[near]) + 1) % 4] + word[near + 1 :]


def _place(tokens, tss, strand, elements):
    """Write elements at their genome positions; return their starts and the near-copies' fixes."""
    s = 1 if strand == "+" else -1
    starts, nears = [], []
    for off, word, near, _ in elements:
        L = len(word)
        p = int(to_genome(tss, s, off, L))
        tokens[p : p + L] = encode(_near_word(word, near) if s > 0 else rc(_near_word(word, near)))
        starts.append(p)
        if near >= 0:
            nears.append((p + near, word[near]) if s > 0 else (p + L - 1 - near, COMPLEMENT[word[near]]))
    return starts, nears


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
        features += [("decoy", None)] * int(rng.integers(scale.n_decoys[0], scale.n_decoys[1] + 1))
        features += [("gap", None)] * scale.n_gaps + [("repeat", None)] * scale.n_repeats
        features = [features[i] for i in rng.permutation(len(features))]
        planned = []
        for kind, cls in features:
            strand = "+" if rng.random() < 0.5 else "-"
            if kind == "gene":
                elements, required, body, lo, hi = _plan_gene(rng, cls, scale)
                planned.append((kind, cls, hi - lo, (elements, required, body, lo, hi, strand)))
            elif kind == "decoy":
                elements, lo, hi = _plan_decoy(rng)
                planned.append((kind, None, hi - lo, (elements, [], 0, lo, hi, strand)))
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
                elements, required, body, lo, hi, strand = data
                s = 1 if strand == "+" else -1
                tss = pos - lo if s > 0 else pos + hi - 1
                starts, nears = _place(tokens, tss, strand, elements)
                if kind == "gene":
                    zs, ze = gene_spans(np.array([tss]), np.array([s]), *PROMOTER_ZONE)
                    prot[max(int(zs[0]), 0) : int(ze[0])] = True
                    bs, be = gene_spans(np.array([tss]), np.array([s]), 0, body)
                    genes.append(dict(
                        gene=f"LOC_Os{c:02d}g{10 * (len(genes) + 1):05d}", chrom=name, start=int(bs[0]), end=int(be[0]),
                        strand=strand, tss=tss, cls=cls,
                        required=[(starts[k], len(elements[k][1])) for k in required],
                        decoy_starts=sorted(st for st, e in zip(starts, elements) if not e[3] and e[2] < 0 and len(e[1]) == MOTIF_LEN),
                        near=nears,
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
    """Mark-changing SNPs: ``(gene, pos, alt, effect, kind, fmask, owner)``.

    ``lost``: one base of a required element (an activating or repressive
    motif at the threshold, the TATA box or the initiator) of a marked gene;
    ``gained``: the base that completes a ``near_*`` gene's near-copy.
    """
    plan, private = [], []
    for g in genes:
        if g["cls"].startswith("near_"):
            pos, alt = g["near"][0]
            effect = "gained"
        elif g["cls"] in MARKS and g["required"] and rng.random() < 0.6:
            start, length = g["required"][rng.integers(len(g["required"]))]
            pos = int(start + rng.integers(0, length))
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


def _peaks(rng, intervals, sizes, mark, name, lift=None):
    """Noisy peak calls from true intervals (own coordinates), reported on the
    reference when ``lift(chrom, positions)`` is given (the same draws)."""
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
        summit = [int(rng.integers(0, e - s))] if mark == "H3K4me3" else []
        if lift is not None:  # first and last base lifted; the summit with them
            first, last, *top = (int(x) for x in lift(c, np.array([s, e - 1] + [s + t for t in summit])))
            s, e, summit = first, last + 1, [min(max(t - first, 0), last - first) for t in top]
        fields = [c, s, e, f"{name}_peak{i + 1}", score, ".", f"{signal:.3f}", f"{p:.3f}", f"{q:.3f}", *summit]
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


def _write_chip(bam_dir, name, seqs, truth, n_reads, rng, lift=None, ref=None):
    """A cultivar's H3K4me3 ChIP and input BAMs; reads drawn on its own sequence and
    aligned to it, or with ``lift`` at their lifted positions on the ``ref`` sequences."""

    def write(path, starts):
        if lift is not None:
            starts = {c: np.minimum(lift(c, p), len(ref[c]) - 100) for c, p in starts.items()}
        return _write_bam(path, seqs if lift is None else ref, starts, rng)

    chip = _read_starts(rng, seqs, int(n_reads[0] * 0.4))
    enriched = _read_starts(rng, seqs, int(n_reads[0] * 0.6), truth["H3K4me3"])
    n_chip = write(bam_dir / f"{name}.H3K4me3.bam", {c: np.concatenate([chip[c], enriched[c]]) for c in chip})
    n_input = write(bam_dir / f"{name}.input.bam", _read_starts(rng, seqs, n_reads[1]))
    return n_chip, n_input


def _lift_intervals(intervals, lift, ref_sizes):
    """Own-coordinate intervals on the reference: first and last base lifted."""
    rows = []
    for c, s, e in intervals:
        rs, re_ = lift(c, np.array([s, e - 1]))
        rows.append((c, int(rs), min(int(re_) + 1, ref_sizes[c])))
    return rows


def _write_vcf(path, ref, sites, carried, samples, rng):
    """Multi-sample VCF of the sites any sample carries (a few heterozygous and no-call genotypes
    among them); bgzip + tabix via pysam. Returns the number of records."""
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
    return int(idx.size)


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


def _peaks_file(name, mark):
    """A cultivar's peaks file, relative to the panel: narrowPeak for H3K4me3, broadPeak else; CV02's H3K4me3 gzipped."""
    ext = "narrowPeak" if mark == "H3K4me3" else "broadPeak"
    return f"peaks/{name}.{mark}.{ext}{'.gz' if name == 'CV02' and mark == 'H3K4me3' else ''}"


def _lines(sc, n_varieties):
    """The panel's cultivars and varieties as ``(name, subpopulation)``, and how many varieties are FASTA."""
    n_var = sc.n_varieties if n_varieties is None else int(n_varieties)
    n_fasta = min(sc.n_fasta_varieties, max(n_var - 1, 0)) if n_var > 1 else n_var
    cultivars = [(f"CV{i:02d}", 0 if i <= 10 else 1) for i in range(1, 21)]
    varieties = [(f"IRIS_313-{10001 + i}", i % 2) for i in range(n_var)]
    return cultivars, varieties, n_fasta


def panel_files(scale="demo", n_varieties=None):
    """Every file :func:`simulate` writes for ``scale`` (and ``n_varieties``), as sorted paths relative to its ``out``."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}, got {scale!r}")
    cultivars, varieties, n_fasta = _lines(SCALES[scale], n_varieties)
    files = ["reference.fa", "reference.fa.fai", "events.tsv", "training.tsv", "varieties.tsv", "truth/genes.tsv",
             "truth/genes.gff3", "cultivars.vcf.gz", "cultivars.vcf.gz.tbi"]
    files += [f"truth/reference.{mark}.bed" for mark in MARKS]
    for name, _ in cultivars:
        files += [f"cultivars/{name}.fa", f"cultivars/{name}.fa.fai"]
        for mark in MARKS:
            files.append(f"truth/{name}.{mark}.bed")
            if name in REFERENCE_MAPPED:
                files.append(f"truth/{name}.{mark}.ref.bed")
            files.append(_peaks_file(name, mark))
        if name in _BAM_ROWS:
            files += [f"bam/{name}.{kind}.bam{index}" for kind in ("H3K4me3", "input") for index in ("", ".bai")]
    for k, (name, _) in enumerate(varieties):
        if k < n_fasta:
            files += [f"varieties/{name}.fa", f"varieties/{name}.fa.fai"]
        files += [f"truth/{name}.{mark}.{kind}" for mark in MARKS for kind in ("bed", "ref.bed")]
    if len(varieties) > n_fasta:
        files += ["varieties.vcf.gz", "varieties.vcf.gz.tbi"]
    return sorted(files)


def simulate(out, seed=1, scale="demo", n_varieties=None, rules=true_marks):
    """Write the synthetic panel (see the module docstring) and return ``out``.

    Parameters
    ----------
    out : output directory (created); sheet paths are ``os.path.join(out, ...)``
        with ``out`` as given, so they work from the caller's directory.
    seed : int; the same seed gives byte-identical files.
    scale : ``"demo"`` (12 x ~100 kb, 6 varieties), ``"test"`` (10 x ~9.5 kb,
        3 varieties), ``"panel"`` (demo genome, 50 varieties, nearly all VCF)
        or ``"large"`` (12 x ~400 kb, four times the demo's genes, 6 varieties).
    n_varieties : number of prediction varieties (default per scale).
    rules : what places the marks: a function of ``{chrom: tokens}``
        returning ``{mark: [(chrom, start, end), ...]}`` as
        :func:`ntpipe.grammar.true_marks` (the demo's grammar, the default) does.
        Genes, decoys and planted events are laid out for the demo's grammar
        whatever the rules.

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
    cultivars, varieties, n_fasta = _lines(sc, n_varieties)
    out_given = str(out)
    out = Path(out)
    for sub in ("cultivars", "varieties", "peaks", "bam", "truth"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for sheet in ("training.tsv", "varieties.tsv"):
        (out / sheet).unlink(missing_ok=True)
    seeds = np.random.SeedSequence(seed).spawn(6)  # (a sixth stream leaves the first five's draws unchanged)
    rng_ref, rng_pop, rng_peaks, rng_reads, rng_vcf, rng_cultivar_vcf = (np.random.default_rng(s) for s in seeds)

    ref, genes, protected = _build_reference(rng_ref, sc)
    write_fasta(out / "reference.fa", {c: s.tobytes().decode() for c, s in ref.items()})
    ref_truth = rules(_tokens(ref))
    for mark in MARKS:
        _write_bed(out / "truth" / f"reference.{mark}.bed", ref_truth[mark])
    _write_genes(out / "truth", genes, {c: len(s) for c, s in ref.items()})

    lines = cultivars + varieties
    event_plan = _plan_events(rng_pop, genes, ref, len(lines), len(cultivars))
    sites, n_blocks = _make_sites(rng_pop, ref, genes, protected, lines, sc, event_plan)
    choice = rng_pop.integers(0, _N_FOUNDERS, size=(len(lines), n_blocks))
    alts_u8 = [np.frombuffer(a.encode(), dtype=np.uint8) for a in sites.alt]
    ref_lens = np.array([len(r) for r in sites.ref], dtype=np.int64)
    alt_lens = np.array([len(a) for a in sites.alt], dtype=np.int64)
    names = list(ref)
    ref_sizes = {c: len(s) for c, s in ref.items()}
    ref_ivs = {m: _intervals_by_chrom(ref_truth[m]) for m in MARKS}

    def build(li):
        mask = _line_variants(sites, li, lines[li][1], choice[li])
        seqs, applied = {}, {}
        for ci, c in enumerate(names):
            sel = np.flatnonzero(mask & (sites.chrom == ci))
            applied[c] = sel
            seqs[c] = _consensus(ref[c], sites.start[sel], ref_lens[sel], [alts_u8[i] for i in sel])
        return mask, seqs, applied

    def lifter(applied):
        """``lift(chrom, positions)``: a line's own positions on the reference."""
        return lambda c, positions: _lift(sites.start[applied[c]], ref_lens[applied[c]], alt_lens[applied[c]], positions)

    cultivar_truth, n_vars, mapped_masks, n_reads = {}, [], {}, []
    n_carriers = np.zeros(len(sites.start), dtype=np.int64)  # training cultivars carrying each site
    for li, (name, _) in enumerate(cultivars):
        mask, seqs, applied = build(li)
        n_vars.append(int(mask.sum()))
        n_carriers += mask
        write_fasta(out / "cultivars" / f"{name}.fa", {c: s.tobytes().decode() for c, s in seqs.items()})
        truth = rules(_tokens(seqs))
        cultivar_truth[name] = truth
        sizes = {c: len(s) for c, s in seqs.items()}
        lift = None
        if name in REFERENCE_MAPPED:
            lift = lifter(applied)
            mapped_masks[name] = mask
        for mark in MARKS:
            _write_bed(out / "truth" / f"{name}.{mark}.bed", truth[mark])
            if lift is not None:
                _write_bed(out / "truth" / f"{name}.{mark}.ref.bed", _lift_intervals(truth[mark], lift, ref_sizes))
            path = _peaks_file(name, mark)
            _write_text(out / path, _peaks(rng_peaks, truth[mark], sizes, mark, f"{name}.{mark}", lift),
                        compress=path.endswith(".gz"))
        if name in _BAM_ROWS:
            n_reads.append(_write_chip(out / "bam", name, seqs, truth, sc.reads, rng_reads, lift, ref))
    if mapped_masks:
        _write_vcf(out / "cultivars.vcf.gz", ref, sites, np.array(list(mapped_masks.values())), list(mapped_masks), rng_cultivar_vcf)

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
        truth = rules(_tokens(seqs))
        lifted = {}
        for mark in MARKS:
            _write_bed(out / "truth" / f"{name}.{mark}.bed", truth[mark])
            lifted[mark] = _lift_intervals(truth[mark], lifter(applied), ref_sizes)
            _write_bed(out / "truth" / f"{name}.{mark}.ref.bed", lifted[mark])
        events += _verify_events(name, sites, mask, genes, names, ref_ivs, {m: _intervals_by_chrom(lifted[m]) for m in MARKS},
                                 n_carriers)

    n_records = 0
    if vcf_samples:
        n_records = _write_vcf(out / "varieties.vcf.gz", ref, sites, np.array(vcf_masks), vcf_samples, rng_vcf)
    _write_text(
        out / "events.tsv",
        "variety\tchrom\tref_pos\tmark\teffect\tref_start\tref_end\tcultivars\n" + "".join("\t".join(map(str, r)) + "\n" for r in events),
    )
    _write_sheets(out, out_given, cultivars, varieties, n_fasta)

    total = sum(len(s) for s in ref.values())
    log.info(
        "simulated %s panel (seed %d) in %s: reference %d bp in %d sequences, %d genes, %d H3K4me3 / %d H3K27me3 "
        "reference intervals, %d cultivars (%d on the reference), %d varieties (%d FASTA, %d in a VCF of %d records), "
        "%d-%d variants per line, %d events, ChIP+input reads %s, %.1f s",
        scale, seed, out_given, total, len(ref), len(genes), len(ref_truth["H3K4me3"]), len(ref_truth["H3K27me3"]),
        len(cultivars), len(mapped_masks), len(varieties), n_fasta, len(vcf_samples), n_records, min(n_vars), max(n_vars),
        len(events), ", ".join(f"{a}+{b}" for a, b in n_reads), time.perf_counter() - t0,
    )
    return out


def _verify_events(name, sites, mask, genes, names, ref_ivs, var_ivs, n_carriers):
    """Rows of events.tsv for a variety: planted sites it carries whose effect shows in its truth.

    The interval is the one over the gene's TSS (the cue may lie upstream of it);
    the last column counts the training cultivars that carry the same variant
    (0: private to the variety, so only the grammar can tell its effect).
    """
    rows = []
    for i in np.flatnonzero(mask & (sites.event >= 0)):
        g = genes[sites.event[i]]
        mark = g["cls"].replace("near_", "")
        chrom, pos, tss = names[sites.chrom[i]], int(sites.start[i]), int(g["tss"])
        if sites.effect[i] == "lost":
            hit = _overlapping(ref_ivs[mark], chrom, tss, tss + 1)
            if len(hit) == 1 and not _overlapping(var_ivs[mark], chrom, *hit[0]):
                rows.append((name, chrom, pos, mark, "lost", *hit[0], int(n_carriers[i])))
        else:
            hit = _overlapping(var_ivs[mark], chrom, tss, tss + 1)
            if len(hit) == 1 and not _overlapping(ref_ivs[mark], chrom, *hit[0]):
                rows.append((name, chrom, pos, mark, "gained", *hit[0], int(n_carriers[i])))
    return rows


def _write_genes(truth_dir, genes, sizes):
    """``genes.tsv`` (0-based half-open) and ``genes.gff3`` (1-based) of the planted genes."""
    rows = ["gene\tchrom\tstart\tend\tstrand\ttss\tclass\trequired_starts\tdecoy_starts\n"]
    gff = ["##gff-version 3\n"] + [f"##sequence-region {c} 1 {n}\n" for c, n in sizes.items()]
    for g in genes:
        rows.append(
            f"{g['gene']}\t{g['chrom']}\t{g['start']}\t{g['end']}\t{g['strand']}\t{g['tss']}\t{g['cls']}\t"
            + ",".join(str(s) for s, _ in g["required"]) + "\t" + ",".join(map(str, g["decoy_starts"])) + "\n"
        )
        gff.append(f"{g['chrom']}\tntpipe.simulate\tgene\t{g['start'] + 1}\t{g['end']}\t.\t{g['strand']}\t.\t"
                   f"ID={g['gene']};Name={g['gene']};class={g['cls']}\n")
    _write_text(truth_dir / "genes.tsv", "".join(rows))
    _write_text(truth_dir / "genes.gff3", "".join(gff))


def _write_sheets(out, out_given, cultivars, varieties, n_fasta):
    j = lambda *p: os.path.join(out_given, *p)  # noqa: E731
    rows = ["cultivar\tmark\tgenome\tvcf\tsample\tpeaks\tbam\tcontrol\n"]
    for name, _ in cultivars:
        for mark in MARKS:
            sequence = f"\t{j('cultivars.vcf.gz')}\t{name}" if name in REFERENCE_MAPPED else f"{j('cultivars', f'{name}.fa')}\t\t"
            if name in _BAM_ROWS and mark == "H3K4me3":
                rows.append(f"{name}\t{mark}\t{sequence}\t\t{j('bam', f'{name}.H3K4me3.bam')}\t{j('bam', f'{name}.input.bam')}\n")
            else:
                rows.append(f"{name}\t{mark}\t{sequence}\t{j(_peaks_file(name, mark))}\t\t\n")
    _write_text(out / "training.tsv", "".join(rows))
    rows = ["variety\tgenome\tvcf\tsample\n"]
    for k, (name, _) in enumerate(varieties):
        if k < n_fasta:
            rows.append(f"{name}\t{j('varieties', f'{name}.fa')}\t\t\n")
        else:
            rows.append(f"{name}\t\t{j('varieties.vcf.gz')}\t{name}\n")
    _write_text(out / "varieties.tsv", "".join(rows))
