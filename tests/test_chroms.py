"""Tests for ntpipe.chroms: one chromosome under the usual rice namings."""

import pytest

from ntpipe.chroms import canonical, match


def test_usual_namings_share_one_key():
    assert {canonical(n) for n in ["Chr1", "chr01", "chr1", "1", "CHR1", "Chr01", "chromosome_1"]} == {"1"}
    assert canonical("Chr10") == "10" != canonical("Chr1")
    assert canonical("ChrUn_scaffold1") == canonical("chrUn_scaffold1") == "un_scaffold1"
    assert canonical("chr") == "chr"


def test_match_keeps_exact_names_and_pairs_other_namings():
    genome = ["Chr1", "Chr2", "Chr10", "ChrSy"]
    assert match(["Chr1", "chr02", "10", "chrSy", "scaffold9"], genome) == {
        "Chr1": "Chr1", "chr02": "Chr2", "10": "Chr10", "chrSy": "ChrSy"}  # scaffold9: no match, left out
    assert match(["chr1"], ["chr1", "Chr1"]) == {"chr1": "chr1"}  # the exact name wins


def test_ambiguous_matches_are_errors():
    with pytest.raises(ValueError, match=r"chromosome '1' matches several names of the genome: \['Chr1', 'chr01'\]"):
        match(["1"], ["Chr1", "chr01"])
    with pytest.raises(ValueError, match=r"chromosomes 'chr1' and 'chr01' are both the genome's 'Chr1'"):
        match(["chr1", "chr01"], ["Chr1", "Chr2"])
    with pytest.raises(ValueError, match=r"chromosomes 'Chr1' and '1' are both the genome's 'Chr1'"):
        match(["Chr1", "1"], ["Chr1"])
