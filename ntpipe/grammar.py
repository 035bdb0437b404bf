"""The demo's motif grammar: where each histone mark sits, from DNA sequence alone (numpy only).

:func:`true_marks` is the ground truth of :mod:`ntpipe.simulate`: the truth
of any genome is a function of its own sequence, so a variety's variants move
it.

Positions below are offsets along the gene from its TSS (0 = the first
transcribed base, negative = upstream), so a minus-strand gene reads mirrored.

- **Genes** are defined by sequence: a core promoter is a TATA box
  (:data:`TATA_BOX` starting at -33) and an initiator (:data:`INITIATOR`
  starting at -3, its ``A`` at the TSS), 30 bp apart on one strand; the
  strand is the gene's. Either word alone does nothing. The pair has 16 fixed
  bases: in 43%-GC background about 6e-10 per position and strand (about one
  chance pair per 800 Mb; none in 100 Mb of simulated background), and the
  simulator scrubs chance pairs from its background.
- ``H3K4me3`` (sharp): at least ``K4_MIN`` = 2 :data:`ACTIVATING_MOTIFS` on
  the gene's strand (the motif as written, read along the gene) starting in
  ``K4_CUE`` = -300..-60 activate the promoter. Unless the promoter is
  silenced (below), the mark covers ``K4_SPAN`` = -200..+1000, the +1
  nucleosomes downstream of the cue: a 1 kb window centred on a bin beyond
  about +450 no longer holds the core promoter.
  The same motifs anywhere else (gene body, intergenic space, upstream of
  -300, on the other strand, next to a half core promoter) do nothing.
- ``H3K27me3`` (broad): :data:`REPRESSIVE_MOTIFS` on either strand starting in
  ``K27_CUE`` = -500..+490 form a nucleation site. The promoter is silenced
  when it holds at least ``K27_MIN`` = 3 of them, or ``K27_MIN_IDLE`` = 2 when
  it has no activating motif in ``K4_CUE`` (activation protects against a
  weak site). A silenced promoter carries no H3K4me3, whatever its activating
  motifs; its H3K27me3 domain covers -500 .. ``K27_BASE`` + ``K27_STEP`` x
  (number of repressive motifs): 1.5-2.5 kb downstream over the gene body,
  well beyond the window that holds the cue. Repressive motifs away from a core promoter do
  nothing, however clustered.

The simulator plants genes, decoys and mark-changing variants for these rules
(:mod:`ntpipe.simulate`); the rules themselves know nothing of the planting.
"""

import numpy as np

from .encoding import N_TOKEN, encode
from .intervals import merge_intervals

__all__ = [
    "MARKS",
    "ACTIVATING_MOTIFS",
    "REPRESSIVE_MOTIFS",
    "TATA_BOX",
    "INITIATOR",
    "motif_hits",
    "core_promoters",
    "promoter_states",
    "silenced",
    "to_genome",
    "to_offset",
    "gene_spans",
    "true_marks",
]

MARKS = ("H3K4me3", "H3K27me3")
ACTIVATING_MOTIFS = ("GCCACGTGAT", "AAACCCTAAC", "ATCCGACGGA", "CGGTCAACGC")
REPRESSIVE_MOTIFS = ("GAGAGAAGAG", "AGAGGGAGAA", "GGAGAGGATC")
MOTIF_LEN = 10
TATA_BOX, INITIATOR = "TATAAATA", "CTCATCTC"  # initiator's A (index 3) is the TSS
CORE_LEN = len(TATA_BOX)
TATA_OFFSET, INITIATOR_OFFSET = -33, -3  # starts, along the gene, from the TSS

K4_MIN, K4_CUE, K4_SPAN = 2, (-300, -60), (-200, 1000)
K27_MIN, K27_MIN_IDLE, K27_CUE = 3, 2, (-500, 490)
K27_UP, K27_BASE, K27_STEP = 500, 500, 500

COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}


def rc(s):
    """Reverse complement of a DNA word."""
    return "".join(COMPLEMENT[b] for b in reversed(s))


def _check_motifs():
    words = [m for m in ACTIVATING_MOTIFS + REPRESSIVE_MOTIFS] + [rc(m) for m in ACTIVATING_MOTIFS + REPRESSIVE_MOTIFS]
    for i, a in enumerate(words):
        for b in words[i + 1 :]:
            if sum(x != y for x, y in zip(a, b)) < 2:
                raise ValueError(f"motifs {a!r} and {b!r} differ at fewer than 2 positions")
    core = [TATA_BOX, INITIATOR, rc(TATA_BOX), rc(INITIATOR)]
    if len(set(core)) < 4:
        raise ValueError(f"core promoter words {core!r} must differ from each other and their reverse complements")


_check_motifs()


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
    return int(_kmer_codes(encode(word), len(word))[0])


def motif_hits(tokens, motifs):
    """Starts of ``motifs`` in ``tokens`` on each strand.

    Parameters
    ----------
    tokens : uint8 tokens of one sequence (see :mod:`ntpipe.encoding`).
    motifs : iterable of str, all of one length.

    Returns
    -------
    plus, minus : sorted int64 arrays of 0-based starts of a motif (plus) or of
    its reverse complement (minus).
    """
    motifs = list(motifs)
    if not motifs or len({len(m) for m in motifs}) != 1:
        raise ValueError(f"motifs must be non-empty words of one length, got {motifs!r}")
    code = _kmer_codes(tokens, len(motifs[0]))
    plus = np.flatnonzero(np.isin(code, [_word_code(m) for m in motifs]))
    minus = np.flatnonzero(np.isin(code, [_word_code(rc(m)) for m in motifs]))
    return plus.astype(np.int64), minus.astype(np.int64)


def to_genome(tss, strand, offset, length):
    """Genome start of an element ``length`` long starting at ``offset`` along the gene."""
    return np.where(strand > 0, tss + offset, tss - offset - length + 1)


def to_offset(tss, strand, start, length):
    """Offset along the gene (from ``tss``) of an element starting at genome ``start``."""
    return np.where(strand > 0, start - tss, tss - start - length + 1)


def core_promoters(tokens):
    """TSSs defined by a TATA box and an initiator 30 bp apart on one strand.

    Returns
    -------
    tss, strand : int64 arrays, sorted by TSS; ``tss`` is the 0-based position
    of the initiator's ``A`` (the first transcribed base), ``strand`` +1 or -1.
    """
    tata = motif_hits(tokens, [TATA_BOX])
    inr = motif_hits(tokens, [INITIATOR])
    tss, strand = [], []
    for s, t_hits, i_hits in ((1, tata[0], inr[0]), (-1, tata[1], inr[1])):
        # the TSS each initiator implies; keep those with the TATA box where it belongs
        cand = i_hits - INITIATOR_OFFSET if s > 0 else i_hits + INITIATOR_OFFSET + CORE_LEN - 1
        ok = np.isin(to_genome(cand, np.full(cand.size, s), TATA_OFFSET, CORE_LEN), t_hits)
        tss.append(cand[ok])
        strand.append(np.full(int(ok.sum()), s, dtype=np.int64))
    tss, strand = np.concatenate(tss).astype(np.int64), np.concatenate(strand)
    order = np.argsort(tss, kind="stable")
    return tss[order], strand[order]


def silenced(n_act, n_rep):
    """Whether a promoter with these counts is silenced (ints or arrays)."""
    return (n_rep >= K27_MIN) | ((n_rep >= K27_MIN_IDLE) & (n_act == 0))


def _count_in(offsets, lo, hi):
    return int(np.count_nonzero((offsets >= lo) & (offsets <= hi)))


def promoter_states(tokens):
    """Every core promoter of a sequence and what the grammar makes of it.

    Returns
    -------
    dict of equal-length arrays: ``tss``, ``strand`` (+1/-1), ``n_act``
    (activating motifs on the gene's strand in ``K4_CUE``), ``n_rep``
    (repressive motifs, either strand, in ``K27_CUE``), ``k4`` and ``k27``
    (bool: the promoter carries the mark).
    """
    tss, strand = core_promoters(tokens)
    act = motif_hits(tokens, ACTIVATING_MOTIFS)
    rep = np.concatenate(motif_hits(tokens, REPRESSIVE_MOTIFS))
    n_act = np.zeros(tss.size, np.int64)
    n_rep = np.zeros(tss.size, np.int64)
    for i, (t, s) in enumerate(zip(tss, strand)):
        same = act[0] if s > 0 else act[1]
        n_act[i] = _count_in(to_offset(t, s, same, MOTIF_LEN), *K4_CUE)
        n_rep[i] = _count_in(to_offset(t, s, rep, MOTIF_LEN), *K27_CUE)
    k27 = silenced(n_act, n_rep)
    k4 = (n_act >= K4_MIN) & ~k27
    return dict(tss=tss, strand=strand, n_act=n_act, n_rep=n_rep, k4=k4, k27=k27)


def gene_spans(tss, strand, lo, hi):
    """Genome ``[start, end)`` of offsets ``[lo, hi)`` along each gene."""
    return to_genome(tss, strand, lo, hi - lo), to_genome(tss, strand, lo, hi - lo) + (hi - lo)


def _mark_intervals(tokens):
    p = promoter_states(tokens)
    k4 = gene_spans(p["tss"][p["k4"]], p["strand"][p["k4"]], *K4_SPAN)
    t, s, n = p["tss"][p["k27"]], p["strand"][p["k27"]], p["n_rep"][p["k27"]]
    hi = K27_BASE + K27_STEP * n
    start = np.where(s > 0, t - K27_UP, t - hi + 1)
    return {"H3K4me3": k4, "H3K27me3": (start, start + K27_UP + hi)}


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
        for mark, (s, e) in _mark_intervals(tokens).items():
            s, e = merge_intervals(np.clip(s, 0, length), np.clip(e, 0, length))
            out[mark].extend((chrom, int(a), int(b)) for a, b in zip(s, e) if b > a)
    return out
