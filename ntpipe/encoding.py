"""DNA to tokens, reverse complement and window views (numpy only, no I/O).

Tokens: A=0, C=1, G=2, T=3, N=4. Lowercase (soft-masked) bases are bases;
N and every other IUPAC code become N, so a window keeps its length and every
later position stays where it is.
"""

import numpy as np

__all__ = [
    "ALPHABET",
    "N_TOKEN",
    "encode",
    "decode",
    "reverse_complement",
    "sliding_windows",
    "n_bins",
    "bin_layout",
    "pad_for_bins",
    "called_bins",
    "window_bounds",
]

ALPHABET = "ACGTN"
N_TOKEN = 4

_SEQUENCE_BYTES = b"ACGTNRYSWKMBDHVUacgtnryswkmbdhvu-."
_LOOKUP = np.full(256, 255, dtype=np.uint8)
_LOOKUP[np.frombuffer(_SEQUENCE_BYTES, dtype=np.uint8)] = N_TOKEN
for _i, _b in enumerate(b"ACGT"):
    _LOOKUP[_b] = _i
    _LOOKUP[_b + 32] = _i  # lowercase
_COMPLEMENT = np.array([3, 2, 1, 0, N_TOKEN], dtype=np.uint8)


def encode(seq):
    """Encode a DNA sequence to uint8 tokens with one vectorised lookup.

    Parameters
    ----------
    seq : str, bytes or numpy uint8 array of ASCII codes

    Returns
    -------
    numpy.ndarray of uint8, values 0..4.

    Raises
    ------
    ValueError naming the first byte that is not a sequence letter.
    """
    if isinstance(seq, str):
        seq = seq.encode("ascii", errors="replace")
    raw = np.frombuffer(seq, dtype=np.uint8) if isinstance(seq, (bytes, bytearray)) else np.asarray(seq, np.uint8)
    tokens = _LOOKUP[raw]
    bad = np.flatnonzero(tokens == 255)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"not a DNA sequence letter: {chr(raw[i])!r} at position {i + 1} (1-based; expected A, C, G, T, N or an IUPAC code)")
    return tokens


def decode(tokens):
    """Tokens back to an uppercase string (N for 4)."""
    return np.frombuffer(b"ACGTN", dtype=np.uint8)[np.asarray(tokens)].tobytes().decode()


def reverse_complement(tokens):
    """Reverse complement of tokens along the last axis (N stays N)."""
    return _COMPLEMENT[np.asarray(tokens)][..., ::-1]


def sliding_windows(tokens, size, stride):
    """Windows of ``size`` every ``stride`` tokens, as a read-only view (no copy)."""
    if size < 1 or stride < 1:
        raise ValueError(f"window size and stride must be positive, got size={size}, stride={stride}")
    if len(tokens) < size:
        return np.empty((0, size), dtype=tokens.dtype)
    return np.lib.stride_tricks.sliding_window_view(tokens, size)[::stride]


def n_bins(length, stride):
    """Bins of ``stride`` bp that cover ``length`` bp (the last one may be short)."""
    return -(-length // stride)


def bin_layout(length, size, stride):
    """Bins of one chromosome and where their centred windows start.

    Bin ``i`` covers ``[i*stride, min((i+1)*stride, length))``; its window is
    ``size`` long and centred on the bin, so it starts at
    ``i*stride - left`` with ``left = (size - stride) // 2``; positions outside
    the chromosome are N.

    Returns
    -------
    n_bins, left, right : number of bins and the N padding on each side that
    makes every window fit in ``pad_for_bins(tokens, size, stride)``.
    """
    if size < stride:
        raise ValueError(f"window size {size} is smaller than the stride {stride}")
    count = n_bins(length, stride)
    left = (size - stride) // 2
    right = (count - 1) * stride + size - left - length
    return count, left, max(right, 0)


def pad_for_bins(tokens, size, stride):
    """Pad a chromosome with N so that ``sliding_windows(padded, size, stride)[i]``
    is the window centred on bin ``i`` (see :func:`bin_layout`)."""
    _, left, right = bin_layout(len(tokens), size, stride)
    return np.concatenate([np.full(left, N_TOKEN, np.uint8), tokens, np.full(right, N_TOKEN, np.uint8)])


def window_bounds(length, size, stride):
    """Each bin's window clipped to the chromosome: ``(lo, hi)`` int64 arrays.

    ``window_bounds(length, stride, stride)`` gives the bins themselves.
    """
    count, left, _ = bin_layout(length, size, stride)
    start = np.arange(count, dtype=np.int64) * stride - left
    return np.clip(start, 0, length), np.clip(start + size, 0, length)


def called_bins(tokens, size, stride, max_n_fraction):
    """Bins that get a value: at most ``max_n_fraction`` of the part of their
    window that lies on the chromosome is N (assembly gaps). The N padding past
    a chromosome end does not count, so a contig shorter than a window is still
    predicted on its padded window.
    """
    cum = np.concatenate([[0], np.cumsum(tokens == N_TOKEN, dtype=np.int64)])
    lo, hi = window_bounds(len(tokens), size, stride)
    return (cum[hi] - cum[lo]) <= max_n_fraction * np.maximum(hi - lo, 1)
