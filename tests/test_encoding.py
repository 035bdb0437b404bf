import numpy as np
import pytest

from ntpipe.encoding import (
    N_TOKEN, bin_layout, called_bins, decode, encode, pad_for_bins, reverse_complement, sliding_windows, window_bounds,
)


def test_encode_bases_lowercase_n_and_iupac():
    assert encode("ACGT").tolist() == [0, 1, 2, 3]
    assert encode("acgt").tolist() == [0, 1, 2, 3]  # soft-masked repeats are bases
    assert encode("NnRYSWKMBDHV").tolist() == [N_TOKEN] * 12
    assert encode(b"AcN").dtype == np.uint8


def test_encode_rejects_non_sequence_bytes():
    with pytest.raises(ValueError, match=r"'1' at position 3 \(1-based"):
        encode("AC1T")
    with pytest.raises(ValueError, match="not a DNA sequence letter"):
        encode("ACG T")


def test_n_keeps_positions():
    # the seed's encoder dropped N and shifted every later base; ours keeps them
    assert decode(encode("ANNA")) == "ANNA"


def test_reverse_complement():
    assert decode(reverse_complement(encode("AACGTN"))) == "NACGTT"
    batch = np.stack([encode("AACG"), encode("TTTN")])
    assert [decode(r) for r in reverse_complement(batch)] == ["CGTT", "NAAA"]


def test_sliding_windows_are_views():
    tokens = encode("ACGTACGTAC")
    win = sliding_windows(tokens, 4, 3)
    assert win.shape == (3, 4)
    assert np.shares_memory(win, tokens)
    assert [decode(w) for w in win] == ["ACGT", "TACG", "GTAC"]
    assert sliding_windows(tokens, 20, 1).shape == (0, 20)


def test_bins_are_centred_and_padded_at_both_ends():
    seq = "A" * 100 + "C" * 100 + "G" * 50  # 250 bp, stride 100 -> 3 bins
    n_bins, left, right = bin_layout(250, 300, 100)
    assert (n_bins, left) == (3, 100)
    padded = pad_for_bins(encode(seq), 300, 100)
    win = sliding_windows(padded, 300, 100)
    assert win.shape == (3, 300)
    # bin 0 covers [0, 100): its window is [-100, 200), N-padded on the left
    assert decode(win[0]) == "N" * 100 + "A" * 100 + "C" * 100
    # bin 1 covers [100, 200): window [0, 300) runs 50 past the end
    assert decode(win[1]) == seq + "N" * 50
    # the last (partial) bin [200, 250): window [100, 400)
    assert decode(win[2]) == "C" * 100 + "G" * 50 + "N" * 150
    assert len(padded) == left + 250 + right


def test_contig_shorter_than_a_window_gets_its_padded_window():
    padded = pad_for_bins(encode("ACGT" * 10), 100, 20)
    win = sliding_windows(padded, 100, 20)
    assert win.shape == (2, 100)
    assert decode(win[0]).strip("N") == "ACGT" * 10


def test_called_bins_ignore_padding_but_not_gaps():
    tokens = encode("A" * 300 + "N" * 400 + "C" * 300)
    called = called_bins(tokens, 200, 100, 0.5)
    # windows [-50,150) ... ; bins inside the gap are no-calls, the ends are called
    assert called.tolist() == [True, True, True, False, False, False, False, True, True, True]
    assert called_bins(encode("ACGT" * 10), 1000, 20, 0.5).tolist() == [True, True]


def test_window_bounds_clip_to_the_chromosome():
    lo, hi = window_bounds(250, 300, 100)
    assert lo.tolist() == [0, 0, 100] and hi.tolist() == [200, 250, 250]
    bins = window_bounds(250, 100, 100)  # the bins themselves
    assert bins[0].tolist() == [0, 100, 200] and bins[1].tolist() == [100, 200, 250]
