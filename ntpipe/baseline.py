"""A k-mer-frequency logistic regression: the baseline the transformer must beat."""

import numpy as np

from .encoding import N_TOKEN
from .metrics import binary_metrics

__all__ = ["kmer_features", "kmer_logistic", "kmer_logistic_folds", "sparse_logistic", "strand_gaps"]


def kmer_features(tokens, lengths=None, k=4):
    """Frequencies of the 4**k k-mers of each sequence (vectorised, no per-base loop).

    Parameters
    ----------
    tokens : uint8 array (n, L), tokens 0..4 (N = 4), padded with N
    lengths : true lengths (n,) or None (all L)
    k : k-mer size

    Returns
    -------
    float32 array (n, 4**k): each row's k-mer counts divided by its number of
    counted k-mers (k-mers containing N, or reaching into padding, are skipped;
    a row with none is all zeros). Column ``j`` is the k-mer whose base-4
    digits (A=0, C=1, G=2, T=3, first base most significant) spell ``j``.
    """
    tokens = np.asarray(tokens, dtype=np.uint8)
    if tokens.ndim != 2:
        raise ValueError(f"tokens must be a 2-D (n, L) array, got shape {tokens.shape}")
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    n, L = tokens.shape
    out = np.zeros((n, 4**k), dtype=np.float32)
    if L < k or n == 0:
        return out
    lengths = np.full(n, L) if lengths is None else np.asarray(lengths, dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(tokens, k, axis=1)  # (n, L-k+1, k)
    code = windows.astype(np.int64) @ (4 ** np.arange(k - 1, -1, -1, dtype=np.int64))  # (n, L-k+1)
    ok = (windows != N_TOKEN).all(axis=2) & (np.arange(L - k + 1)[None, :] <= (lengths[:, None] - k))
    rows = np.broadcast_to(np.arange(n)[:, None], code.shape)
    counts = np.bincount((rows[ok] * 4**k + code[ok]), minlength=n * 4**k).reshape(n, 4**k)
    total = counts.sum(axis=1, keepdims=True)
    np.divide(counts, total, out=out, where=total > 0)
    return out


def kmer_logistic(train, test, k=4, C=1.0, seed=0):
    """Fit a logistic regression on k-mer frequencies and score ``test``.

    Parameters
    ----------
    train, test : (tokens (n, L), lengths or None, labels) tuples
    k : k-mer size; C : inverse L2 strength

    Returns
    -------
    :func:`~ntpipe.metrics.binary_metrics` of the test set.
    """
    clf = _fitted(kmer_features(train[0], train[1], k), train[2], C, seed)
    return binary_metrics(test[2], clf.predict_proba(kmer_features(test[0], test[1], k))[:, 1])


def _fitted(x, labels, C, seed):
    """A standardised logistic regression fitted on features ``x``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.asarray(labels).astype(np.int64)
    if len(np.unique(y)) < 2:
        raise ValueError("the training set needs both labels (0 and 1)")
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000, random_state=seed)).fit(x, y)


def kmer_logistic_folds(data, splits, k=4, C=1.0, seed=0):
    """:func:`kmer_logistic` scored on each held-out fold of a cross-validation.

    Parameters
    ----------
    data : (tokens (n, L), lengths or None, labels) of the whole table
    splits : (train_idx, valid_idx) pairs, e.g. :func:`ntpipe.train.fold_splits`

    Returns
    -------
    list of :func:`~ntpipe.metrics.binary_metrics`, one per fold.
    """
    tokens, lengths, labels = data
    tokens, labels = np.asarray(tokens), np.asarray(labels)
    lengths = np.full(len(tokens), tokens.shape[1]) if lengths is None else np.asarray(lengths)

    def part(idx):
        return tokens[idx], lengths[idx], labels[idx]

    return [kmer_logistic(part(train_idx), part(valid_idx), k=k, C=C, seed=seed) for train_idx, valid_idx in splits]


def strand_gaps(data, splits, k=3, C=0.1, seed=0):
    """Per fold, how much better a k-mer regression scores held-out sequences than their reverse complements.

    Fitted on each fold's training sequences; the AUC on its held-out sequences
    minus the AUC on their reverse complements (the same k-mer frequencies, each
    read as its reverse complement). About 0 where the labels have no strand, as
    a histone mark's windows (the rice sets' means within 0.01 at k 3); clearly
    above 0 where they have one (E. coli promoters: 0.04-0.05 on every fold).

    Parameters
    ----------
    data : (tokens (n, L), lengths or None, labels)
    splits : (train_idx, valid_idx) pairs, e.g. :func:`ntpipe.train.fold_splits`

    Returns
    -------
    list of floats, one per split.
    """
    tokens, lengths, labels = data
    labels = np.asarray(labels)
    x = kmer_features(tokens, lengths, k)
    digits = (np.arange(4**k)[:, None] // 4 ** np.arange(k)) % 4  # (4**k, k): last base first
    flipped = x[:, (3 - digits) @ (4 ** np.arange(k - 1, -1, -1))]  # column j: the reverse complement of k-mer j
    gaps = []
    for train_idx, valid_idx in splits:
        clf = _fitted(x[train_idx], labels[train_idx], C, seed)
        auc = [binary_metrics(labels[valid_idx], clf.predict_proba(f[valid_idx])[:, 1])["auc"] for f in (x, flipped)]
        gaps.append(auc[0] - auc[1])
    return gaps


def sparse_logistic(x, targets, l1):
    """An L1-penalised logistic regression on soft targets: few non-zero weights (liblinear).

    Parameters
    ----------
    x : (n, d) array or scipy sparse matrix of features
    targets : (n,) targets in [0, 1] (a fraction: the binary cross-entropy on it)
    l1 : L1 strength per example: minimises mean cross-entropy + l1 * sum(|w|)

    Returns
    -------
    (weights (d,) float64, intercept float). The intercept is fitted almost
    unpenalised (liblinear penalises it as a weight on a constant feature:
    here 100, so it costs 1/100 as much).
    """
    import scipy.sparse
    from sklearn.linear_model import LogisticRegression

    targets = np.asarray(targets, dtype=np.float64)
    n = len(targets)
    if n == 0 or l1 <= 0:
        raise ValueError(f"sparse_logistic needs examples and l1 > 0, got {n} examples and l1={l1}")
    # a soft target t is a positive of weight t and a negative of weight 1 - t; rows of weight 0 (most of them:
    # targets of 0 or 1) change nothing but the solver's time, and are left out
    x = scipy.sparse.csr_matrix(x)
    pos, neg = targets > 0, targets < 1
    if not pos.any() or not neg.any():
        raise ValueError(f"sparse_logistic needs targets above 0 and below 1, got {int(pos.sum())} above 0 and {int(neg.sum())} below 1 of {n}")
    both = x[np.r_[np.flatnonzero(pos), np.flatnonzero(neg)]]
    y, weight = np.r_[np.ones(pos.sum()), np.zeros(neg.sum())], np.r_[targets[pos], 1 - targets[neg]]
    clf = LogisticRegression(l1_ratio=1, C=1.0 / (l1 * n), solver="liblinear", intercept_scaling=100.0, max_iter=1000, random_state=0)
    clf.fit(both, y, sample_weight=weight)
    return clf.coef_[0], float(clf.intercept_[0])
