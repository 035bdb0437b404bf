#!/usr/bin/env python3
"""Score ntpipe's tracks on the outside panel against the generator's truth, beside a 5-mer LR.

The panel is make_panel.py's (this folder); the run directory is the workflow's working
directory that holds results/ (tracks, reference tracks, models). Bins of 100 bp: each
variety's track against its truth, and a 5-mer logistic regression fitted on every bin of the
cultivars' chr01-chr04 (their peaks as labels) scored on the same bins; then the truth domains
a variety lost or gained against the reference, and whether its track moved the right way.
It reads FASTA, BED and VCF and counts k-mers with code of its own, not ntpipe's, on purpose:
a scorer that shares the readers of the pipeline it judges would share their mistakes.

Run from the repository root with the ntpipe venv's python (numpy, pyBigWig, pysam, sklearn)
after the workflow (about 2 minutes):
    .venv/bin/python benchmarks/outside_panel/score.py --panel benchmarks/data/outside_panel --run . --out benchmarks/data/outside_panel_scores
    .venv/bin/python benchmarks/outside_panel/events_summary.py --panel benchmarks/data/outside_panel --scores benchmarks/data/outside_panel_scores
Writes OUT/{scores.tsv, events.tsv, metrics.tsv} and prints scores.tsv and metrics.tsv.
"""
import argparse, gzip, json, os, sys, warnings
import numpy as np
import pyBigWig, pysam
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, average_precision_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_panel as mp

SIZE, STRIDE, K = 2000, 100, 5
TRAIN_CHROMS = ["chr01", "chr02", "chr03", "chr04"]
MARKS = ["H3K4me3", "H3K27me3"]


def read_fasta(path):
    seqs, name, buf = {}, None, []
    op = gzip.open if path.endswith(".gz") else open
    # bgzip is gzip-compatible
    with op(path, "rt") as fh:
        for line in fh:
            if line.startswith(">"):
                if name:
                    seqs[name] = "".join(buf)
                name, buf = line[1:].split()[0], []
            else:
                buf.append(line.strip())
    seqs[name] = "".join(buf)
    return seqs


def read_bed(path):
    d = {}
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt") as fh:
        for line in fh:
            if line.startswith(("#", "track", "browser")) or not line.strip():
                continue
            f = line.split("\t")
            d.setdefault(f[0], []).append((int(f[1]), int(f[2])))
    return d


def bin_cover(iv, L):
    nb = (L + STRIDE - 1) // STRIDE
    cov = np.zeros(L + 1, np.int32)
    for s, e in iv:
        s, e = max(0, s), min(L, e)
        if e > s:
            cov[s] += 1; cov[e] -= 1
    cov = (np.cumsum(cov[:L]) > 0).astype(np.int32)
    pad = np.zeros(nb * STRIDE, np.int32); pad[:L] = cov
    return pad.reshape(nb, STRIDE).sum(1)


LUT = np.full(256, -1, np.int16)
for i, b in enumerate(b"ACGT"):
    LUT[b] = i; LUT[b + 32] = i


def kmer_ids(seq):
    a = LUT[np.frombuffer(seq.encode(), np.uint8)].astype(np.int32)
    n = len(a) - K + 1
    ids = np.zeros(n, np.int32); bad = np.zeros(n, bool)
    for j in range(K):
        x = a[j:j + n]
        ids = ids * 4 + np.maximum(x, 0); bad |= x < 0
    ids[bad] = -1
    return ids


def window_features(seq, centers):
    """5-mer frequencies of the SIZE window centred at each position of centers (sequence coords)."""
    ids = kmer_ids(seq)
    X = np.zeros((len(centers), 4 ** K), np.float32)
    L = len(ids)
    for i, c in enumerate(centers):
        s, e = max(0, c - SIZE // 2), min(L, c + SIZE // 2 - K + 1)
        w = ids[s:e]; w = w[w >= 0]
        if len(w):
            X[i] = np.bincount(w, minlength=4 ** K) / len(w)
    return X


def window_features_binned(seq):
    """Fast path for windows centred on every bin of seq's own coordinates (50 bp units)."""
    ids = kmer_ids(seq)
    U = 50
    nu = (len(ids) + U - 1) // U
    unit = np.repeat(np.arange(nu), U)[:len(ids)]
    ok = ids >= 0
    H = np.bincount(unit[ok] * 4 ** K + ids[ok], minlength=nu * 4 ** K).reshape(nu, 4 ** K).astype(np.float32)
    C = np.vstack([np.zeros((1, 4 ** K), np.float32), np.cumsum(H, 0, dtype=np.float32)])
    nb = (len(seq) + STRIDE - 1) // STRIDE
    b = np.arange(nb)
    lo = np.clip(2 * b - 19, 0, nu); hi = np.clip(2 * b + 21, 0, nu)
    X = C[hi] - C[lo]
    X /= np.maximum(X.sum(1, keepdims=True), 1)
    return X


def nfrac_bins(seq):
    a = np.frombuffer(seq.upper().encode(), np.uint8) == ord("N")
    cs = np.concatenate([[0], np.cumsum(a)])
    nb = (len(seq) + STRIDE - 1) // STRIDE
    c = np.arange(nb) * STRIDE + STRIDE // 2
    lo = np.clip(c - SIZE // 2, 0, len(seq)); hi = np.clip(c + SIZE // 2, 0, len(seq))
    return (cs[hi] - cs[lo]) / SIZE


def vcf_consensus(vcf, sample, ref):
    """The cultivar's own sequence and maps, applying its ALT calls (as the generator did)."""
    vs = {}
    with pysam.VariantFile(vcf) as f:
        f.subset_samples([sample])
        for r in f:
            gt = r.samples[sample]["GT"]
            a = [x for x in gt if x not in (None, 0)]
            if a:
                vs.setdefault(r.chrom, []).append((r.pos - 1, r.ref, r.alleles[a[-1]]))
    return {c: mp.consensus(s, vs.get(c, [])) for c, s in ref.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--panel", default="benchmarks/data/outside_panel", help="make_panel.py's --out")
    ap.add_argument("--run", default=".", help="the workflow's working directory (holds results/)")
    ap.add_argument("--out", default="benchmarks/data/outside_panel_scores", help="where the .tsv files go")
    a = ap.parse_args()
    PANEL, RUN, OUT = a.panel, a.run, a.out
    os.makedirs(OUT, exist_ok=True)
    ref = read_fasta(f"{PANEL}/reference.fa")
    rows = [l.rstrip("\n").split("\t") for l in open(f"{PANEL}/training.tsv")][1:]
    # ---- 5-mer LR on every bin of the cultivars' training chromosomes
    Xall = []
    Y = {m: [] for m in MARKS}
    for cu in sorted({r[0] for r in rows}):
        rr = {r[1]: r for r in rows if r[0] == cu}
        g = rr["H3K4me3"][2]
        if g:
            seqs = read_fasta(os.path.join(RUN, g)); own = True
        else:
            cons = vcf_consensus(os.path.join(RUN, rr["H3K4me3"][3]), cu, ref)
            seqs = {c: v[0] for c, v in cons.items()}; own = False
        for c in TRAIN_CHROMS:
            q = seqs[c]
            X = window_features_binned(q)
            keep = nfrac_bins(q) <= 0.5
            Xall.append(X[keep])
            for m in MARKS:
                pk = read_bed(os.path.join(RUN, rr[m][5])).get(c, [])
                if not own:   # peaks on the reference: lift onto the cultivar's own sequence
                    r2c = cons[c][2]
                    pk = [(int(r2c[min(s, len(r2c) - 1)]), int(r2c[min(e, len(r2c)) - 1]) + 1) for s, e in pk]
                Y[m].append((bin_cover(pk, len(q)) >= STRIDE // 2)[keep])
        print("features", cu, file=sys.stderr)
    Xtr = np.vstack(Xall); del Xall
    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-6
    Xtr -= mu; Xtr /= sd
    lr = {}
    for m in MARKS:
        y = np.concatenate(Y[m]).astype(int)
        print(m, "LR on", Xtr.shape, y.mean(), file=sys.stderr)
        lr[m] = LogisticRegression(C=0.1, max_iter=300).fit(Xtr, y)
    del Xtr
    # ---- varieties
    vrows = [l.rstrip("\n").split("\t") for l in open(f"{PANEL}/varieties.tsv")][1:]
    out = []
    evrows = []
    warnings.simplefilter("ignore", RuntimeWarning)   # nanmean of all-NaN bins and domains
    refbw = {m: pyBigWig.open(f"{RUN}/results/reference/{m}.bw") for m in MARKS}
    for v, genome, vcf, sample in vrows:
        own = bool(genome)
        maps = np.load(f"{PANEL}/truth/{v}.maps.npz")
        vseq = read_fasta(f"{PANEL}/truth/consensus/{v}.fa")
        for m in MARKS:
            bw = pyBigWig.open(f"{RUN}/results/tracks/{v}/{m}.bw")
            tr = read_bed(f"{PANEL}/truth/{v}.{m}.{'own' if own else 'ref'}.bed")
            P, T, LRs, CH = [], [], [], []
            nnan = 0
            for c in ref:
                L = bw.chroms().get(c)
                if L is None:
                    continue
                vals = bw.values(c, 0, L, numpy=True).astype(float)
                nb = (L + STRIDE - 1) // STRIDE
                pad = np.full(nb * STRIDE, np.nan); pad[:L] = vals
                with np.errstate(all="ignore"):
                    pb = np.nanmean(pad.reshape(nb, STRIDE), 1)
                t = bin_cover(tr.get(c, []), L) >= STRIDE // 2
                centers = np.arange(nb) * STRIDE + STRIDE // 2
                if own:
                    X = window_features_binned(vseq[c])
                else:
                    r2c = maps["r2c_" + c]
                    X = window_features(vseq[c], r2c[np.minimum(centers, L - 1)])
                s = lr[m].decision_function((X - mu) / sd)
                ok = ~np.isnan(pb)
                nnan += (~ok).sum()
                P.append(pb[ok]); T.append(t[ok]); LRs.append(s[ok]); CH.append(np.full(ok.sum(), c))
            P, T, LRs, CH = np.concatenate(P), np.concatenate(T), np.concatenate(LRs), np.concatenate(CH)
            te = CH == "chr06"
            out.append((v, "fasta" if own else "vcf", m, len(T), int(T.sum()), int(nnan),
                        roc_auc_score(T, P), average_precision_score(T, P),
                        roc_auc_score(T, LRs), average_precision_score(T, LRs),
                        roc_auc_score(T[te], P[te]), average_precision_score(T[te], P[te]),
                        roc_auc_score(T[te], LRs[te]), average_precision_score(T[te], LRs[te])))
            print(*out[-1], file=sys.stderr)
            # ---- events: truth domains that differ from the reference's
            rt = read_bed(f"{PANEL}/truth/reference.{m}.bed")
            vt = read_bed(f"{PANEL}/truth/{v}.{m}.ref.bed")
            for kind, A, B in (("lost", rt, vt), ("gained", vt, rt)):
                for c in A:
                    for s, e in A[c]:
                        if any(x < e and s < y for x, y in B.get(c, [])):
                            continue
                        rmean = np.nanmean(np.array(refbw[m].values(c, s, e), dtype=float))
                        if own:
                            r2c = maps["r2c_" + c]
                            vs_, ve_ = int(r2c[s]), int(r2c[e - 1]) + 1
                        else:
                            vs_, ve_ = s, e
                        vmean = np.nanmean(np.array(bw.values(c, vs_, ve_), dtype=float))
                        right = vmean < rmean if kind == "lost" else vmean > rmean
                        evrows.append((v, m, kind, c, s, e, rmean, vmean, right))
            bw.close()
    with open(f"{OUT}/scores.tsv", "w") as fh:
        fh.write("variety\tkind\tmark\tbins\tpos_bins\tnan_bins\tauc\tauprc\tlr5_auc\tlr5_auprc\tchr06_auc\tchr06_auprc\tchr06_lr5_auc\tchr06_lr5_auprc\n")
        for r in out:
            fh.write("\t".join(str(x) if not isinstance(x, float) else "%.3f" % x for x in r) + "\n")
    with open(f"{OUT}/events.tsv", "w") as fh:
        fh.write("variety\tmark\tkind\tchrom\tstart\tend\tref_track\tvariety_track\tright_way\n")
        for r in evrows:
            fh.write("\t".join(str(x) if not isinstance(x, float) else "%.4f" % x for x in r) + "\n")
    with open(f"{OUT}/metrics.tsv", "w") as fh:
        fh.write("mark\tauc\tauprc\tmcc\tdifferential_auc\tbest_epoch\tlr4_auc\n")
        for m in MARKS:
            d = json.load(open(f"{RUN}/results/models/{m}/metrics.json"))
            b = json.load(open(f"{RUN}/results/models/{m}/baseline.json"))
            fh.write("%s\t%.3f\t%.3f\t%.3f\t%s\t%s\t%.3f\n" % (m, d["auc"], d["auprc"], d["mcc"],
                     d.get("differential_auc"), d.get("best_epoch"), b["auc"]))
    for name in ("scores.tsv", "metrics.tsv"):
        with open(f"{OUT}/{name}") as fh:
            sys.stdout.write(fh.read())


if __name__ == "__main__":
    main()
