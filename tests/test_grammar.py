"""The demo grammar, rule by rule, on hand-built sequences (background all C: no motif anywhere)."""

import numpy as np
import pytest

from ntpipe.encoding import encode
from ntpipe.grammar import (
    ACTIVATING_MOTIFS,
    INITIATOR,
    K4_SPAN,
    K27_BASE,
    K27_STEP,
    K27_UP,
    MOTIF_LEN,
    REPRESSIVE_MOTIFS,
    TATA_BOX,
    core_promoters,
    promoter_states,
    true_marks,
)


def _plant(n, motifs):
    seq = np.full(n, 1, dtype=np.uint8)  # all C: no motif anywhere
    for pos, word in motifs:
        seq[pos : pos + len(word)] = encode(word)
    return seq


def _rc(word):
    return word[::-1].translate(str.maketrans("ACGT", "TGCA"))


def _gene(tss, strand, elements, core=True):
    """``(pos, word)`` to plant for elements given as (offset along the gene, word as read along it)."""
    if core:
        elements = [(-33, TATA_BOX), (-3, INITIATOR), *elements]
    if strand > 0:
        return [(tss + off, word) for off, word in elements]
    return [(tss - off - len(word) + 1, _rc(word)) for off, word in elements]


def _marks(tss, strand, elements, core=True, n=8000):
    return true_marks({"c": _plant(n, _gene(tss, strand, elements, core))})


A, B = ACTIVATING_MOTIFS[:2]
R = REPRESSIVE_MOTIFS


@pytest.mark.parametrize("strand", [1, -1])
def test_core_promoter_fixes_tss_and_strand(strand):
    tss, s = core_promoters(_plant(3000, _gene(1500, strand, [])))
    assert list(tss) == [1500] and list(s) == [strand]
    assert core_promoters(_plant(3000, _gene(1500, strand, [(-33, TATA_BOX)], core=False)))[0].size == 0
    assert core_promoters(_plant(3000, _gene(1500, strand, [(-3, INITIATOR)], core=False)))[0].size == 0
    shifted = _gene(1500, strand, [(-34, TATA_BOX), (-3, INITIATOR)], core=False)
    assert core_promoters(_plant(3000, shifted))[0].size == 0


@pytest.mark.parametrize("strand", [1, -1])
def test_k4_needs_two_activating_motifs_in_place_and_orientation(strand):
    tss = 3000
    marked = _marks(tss, strand, [(-250, A), (-120, B)])
    span = (tss + K4_SPAN[0], tss + K4_SPAN[1]) if strand > 0 else (tss - K4_SPAN[1] + 1, tss - K4_SPAN[0] + 1)
    assert marked == {"H3K4me3": [("c", *span)], "H3K27me3": []}
    # the same motifs as decoys do nothing: one alone, reversed, too far upstream, in the gene body,
    # or without the initiator of the core promoter
    for elements, core in [
        ([(-250, A)], True),
        ([(-250, _rc(A)), (-120, _rc(B))], True),
        ([(-250, A), (-120, _rc(B))], True),
        ([(-450, A), (-350, B)], True),
        ([(300, A), (700, B)], True),
        ([(-33, TATA_BOX), (-250, A), (-120, B)], False),
    ]:
        assert _marks(tss, strand, elements, core)["H3K4me3"] == [], elements


def test_k4_covers_the_nucleosomes_downstream_of_its_cue():
    tss = 3000
    ((_, start, end),) = _marks(tss, 1, [(-250, A), (-120, B)])["H3K4me3"]
    assert start > tss - 250 and end - tss >= 1000  # cues upstream of the mark, the mark 1 kb into the gene
    lo = end - 100 - 500  # a 1 kb window centred on the last marked bin holds no cue
    assert lo > tss + MOTIF_LEN


@pytest.mark.parametrize("strand", [1, -1])
def test_repression_beats_activation_and_spreads_beyond_its_cue(strand):
    tss, n = 3000, 8000
    active = [(-250, A), (-120, B)]
    three = [(-450, R[0]), (100, _rc(R[1])), (300, R[2])]
    got = _marks(tss, strand, active + three, n=n)
    down = K27_BASE + 3 * K27_STEP
    span = (tss - K27_UP, tss + down) if strand > 0 else (tss - down + 1, tss + K27_UP + 1)
    assert got == {"H3K4me3": [], "H3K27me3": [("c", *span)]}
    # the domain reaches beyond any 1 kb window that holds the cue
    assert down - 500 > 300 + MOTIF_LEN
    # two repressive motifs silence an idle promoter only
    assert _marks(tss, strand, active + three[:2])["H3K27me3"] == []
    assert _marks(tss, strand, active + three[:2])["H3K4me3"] != []
    assert len(_marks(tss, strand, three[:2])["H3K27me3"]) == 1
    # a stronger site spreads further
    four = _marks(tss, strand, three + [(200, R[0])])["H3K27me3"]
    assert four[0][2] - four[0][1] == K27_UP + K27_BASE + 4 * K27_STEP


def test_repressive_motifs_away_from_a_promoter_do_nothing():
    cluster = [(2000, R[0]), (2150, _rc(R[1])), (2300, R[2]), (2450, R[0])]
    assert true_marks({"c": _plant(6000, cluster)}) == {"H3K4me3": [], "H3K27me3": []}
    # nor in the body of a gene, past the nucleation window
    body = [(600, R[0]), (800, R[1]), (1000, R[2])]
    assert _marks(3000, 1, body)["H3K27me3"] == []


def test_motifs_ignore_case_and_n():
    seq = _plant(3000, _gene(1000, 1, [(-250, A), (-120, B)]))
    assert true_marks({"c": encode(_decode_lower(seq))})["H3K4me3"] == true_marks({"c": seq})["H3K4me3"] != []
    seq[1000 - 120 + 3] = 4
    assert true_marks({"c": seq})["H3K4me3"] == []


def _decode_lower(tokens):
    return "".join("acgtn"[t] for t in tokens)


def test_promoter_states_count_what_the_rules_count():
    elements = [(-250, ACTIVATING_MOTIFS[0]), (-120, _rc(ACTIVATING_MOTIFS[1])), (-450, REPRESSIVE_MOTIFS[0]), (600, REPRESSIVE_MOTIFS[1])]
    p = promoter_states(_plant(4000, _gene(2000, 1, elements)))
    assert (list(p["n_act"]), list(p["n_rep"]), list(p["k4"]), list(p["k27"])) == ([1], [1], [False], [False])
