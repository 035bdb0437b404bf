import numpy as np
import pytest

from ntpipe.baseline import kmer_features, kmer_logistic, kmer_logistic_folds, sparse_logistic, strand_gaps
from ntpipe.encoding import encode, reverse_complement


def test_kmer_features_counts():
    tokens = np.stack([encode("ACGTA"), encode("AANAA")])
    f = kmer_features(tokens, None, k=2)
    assert f.shape == (2, 16)
    # ACGTA: AC, CG, GT, TA, each 1/4; column = 4*first + second
    assert {int(j): float(v) for j, v in zip(np.flatnonzero(f[0]), f[0][f[0] > 0])} == {1: 0.25, 6: 0.25, 11: 0.25, 12: 0.25}
    # AANAA: only the two AA are counted (k-mers with N skipped)
    assert f[1, 0] == 1.0 and f[1].sum() == 1.0


def test_kmer_features_respects_lengths():
    tokens = np.stack([encode("ACGTAC"), encode("ACGNNN")])
    full = kmer_features(tokens[:1, :3], None, k=2)
    assert np.array_equal(kmer_features(tokens, np.array([3, 3]), k=2), np.vstack([full, full]))
    assert kmer_features(tokens, np.array([1, 0]), k=2).sum() == 0  # too short: all zeros


def _gc_task(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    p = np.where(labels[:, None] == 1, [0.2, 0.3, 0.3, 0.2], [0.3, 0.2, 0.2, 0.3])  # positives GC-rich
    tokens = np.array([rng.choice(4, 100, p=row) for row in p], dtype=np.uint8)
    return tokens, None, labels


def test_kmer_logistic_learns_composition():
    m = kmer_logistic(_gc_task(300, 0), _gc_task(200, 1), k=2)
    assert m["auc"] > 0.9
    with pytest.raises(ValueError, match="both labels"):
        kmer_logistic((np.zeros((3, 10), np.uint8), None, [1, 1, 1]), _gc_task(10, 1))


def test_kmer_logistic_folds_scores_each_held_out_fold():
    from ntpipe.train import fold_splits

    tokens, _, labels = _gc_task(120, 0)
    splits = fold_splits(labels, 3, seed=0)
    per_fold = kmer_logistic_folds((tokens, None, labels), splits)
    assert [m["n_pos"] + m["n_neg"] for m in per_fold] == [len(v) for _, v in splits]
    t, v = splits[1]
    assert per_fold[1] == kmer_logistic((tokens[t], None, labels[t]), (tokens[v], None, labels[v]))


def test_strand_gaps_score_the_reverse_complements_of_the_held_out_sequences():
    from ntpipe.train import fold_splits

    rng = np.random.default_rng(0)
    tokens, labels = rng.integers(0, 4, (300, 60)).astype(np.uint8), np.arange(300) % 2
    tokens[labels == 1, 20:28] = encode("CCACGAAG")  # a motif on one strand: its reverse complement reads CTTCGTGG
    splits = fold_splits(labels, 3, seed=0)
    gaps = strand_gaps((tokens, None, labels), splits, k=3, C=0.1)
    flipped = np.ascontiguousarray(reverse_complement(tokens))
    for gap, (t, v) in zip(gaps, splits):
        # the same regression, fitted by hand: its AUC on the sequences minus on their reverse complements
        fitted = [kmer_logistic((tokens[t], None, labels[t]), (x[v], None, labels[v]), k=3, C=0.1) for x in (tokens, flipped)]
        assert gap == pytest.approx(fitted[0]["auc"] - fitted[1]["auc"], abs=1e-9)
        assert gap > 0.02


def test_sparse_logistic_keeps_the_informative_features():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 30))
    soft = 1 / (1 + np.exp(-2 * x[:, 4]))  # soft targets: a fraction of cultivars with the mark
    weights, intercept = sparse_logistic(x, soft, 0.01)
    assert weights[4] > 1 and np.count_nonzero(weights) <= 5
    assert abs(intercept) < 0.5
    with pytest.raises(ValueError, match="l1 > 0"):
        sparse_logistic(x, soft, 0)
    with pytest.raises(ValueError, match="above 0 and below 1"):
        sparse_logistic(x, np.zeros(600), 0.01)


def test_sparse_logistic_equals_the_regression_with_soft_rows_written_out():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 20))
    hard = (x[:, 2] - x[:, 7] + rng.normal(size=400) > 0).astype(float)
    soft = hard.copy()
    soft[:50] = 0.5  # the soft rows count as a positive and a negative of half weight
    weights, intercept = sparse_logistic(x, soft, 0.01)
    # the same objective, written out: each soft row twice (a positive and a negative of weight 0.5), hard rows once
    plain = LogisticRegression(l1_ratio=1, C=1.0 / (0.01 * 400), solver="liblinear", intercept_scaling=100.0, max_iter=1000)
    plain.fit(np.vstack([x[:50], x[:50], x[50:]]), np.r_[np.ones(50), np.zeros(50), hard[50:]],
              sample_weight=np.r_[np.full(100, 0.5), np.ones(350)])
    np.testing.assert_allclose(weights, plain.coef_[0], atol=1e-4)
    assert intercept == pytest.approx(plain.intercept_[0], abs=1e-4)
