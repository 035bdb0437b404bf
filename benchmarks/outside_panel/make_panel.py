#!/usr/bin/env python3
"""Outside test panel for ntpipe: an independent rice-like panel with its own grammar.

Written apart from ``ntpipe.simulate`` / ``ntpipe.grammar`` on purpose: an
independent grammar (an ordered 6-mer pair for H3K4me3, telobox clusters for
H3K27me3, decoys) on which to judge model changes that were tuned on the
demo's grammar. Its figures are in ``benchmarks/ablations.md``, "An outside
panel of another grammar". Needs numpy and pysam (bgzip / tabix / faidx).

Run from the repository root (about 45 s; see README.md in this folder):
    .venv/bin/python benchmarks/outside_panel/make_panel.py --out benchmarks/data/outside_panel --seed 7
The sheets (training.tsv, varieties.tsv) give paths relative to ``--rundir``,
the directory Snakemake will run in (default: the current directory).

Output under --out: reference.fa(.fai), cultivars/ (own genomes), varieties/,
peaks/, vcf/, training.tsv, varieties.tsv, summary.json and truth/ (what the
scorer needs and ntpipe is not given: truth BEDs on each genome's own and on
the reference's coordinates, coordinate maps, consensus sequences, planted
events, features).

Grammar (truth is a function of each genome's own sequence, so variants move it):
  H3K4me3 (sharp): an ordered GC-rich 6-mer pair on one strand: P1=CGACGG, then P2=GCGTGA
      starting 30..200 bp after P1 ends.  Mark = [P1 - 300, P2end + 900] (+ strand; mirrored on -).
      Silenced (no mark) when the pair's midpoint lies inside a H3K27me3 domain.
  H3K27me3 (broad): a plant PRE-like cluster: >= 3 telobox 7-mers (AACCCTA, either strand) and
      >= 1 GAGA 7-mer (GAGAGAG, either strand), all inside some 800 bp span.
      Domain = [first motif - 2000, last motif end + 2000]  (~4.5-5 kb).
  Decoys: P1 alone, P2 alone, pair too far (260-500), pair in the wrong order, near-pairs (P2 with
  one mismatch), GC-rich promoter islands with and without pairs, 2 T + G + near-T, 3 T + near-G,
  GAGA microsatellites alone, 3 T + G scattered over 2.5 kb.
"""
import argparse, gzip, json, os, re, shutil
import numpy as np
import pysam

P1, P2, TB, GA = "CGACGG", "GCGTGA", "AACCCTA", "GAGAGAG"
COMP = bytes.maketrans(b"ACGTNacgtn", b"TGCANtgcan")


def rc(s):
    return s.translate(str.maketrans("ACGTN", "TGCAN"))[::-1]


for m in (P1, P2, TB, GA):
    assert rc(m) != m

CHROMS = [("chr01", 1_100_000), ("chr02", 1_000_000), ("chr03", 950_000),
          ("chr04", 900_000), ("chr05", 850_000), ("chr06", 800_000)]
UNPLACED = ("chrUn_ctg0001", 1_530)

CULTIVARS = ["IR64", "Azucena", "Kasalath", "N22", "Minghui63", "Zhenshan97", "93-11", "DJ123",
             "Lemont", "Tetep", "Basmati370", "Moroberekan", "IR8", "Dular", "Koshihikari",
             "TeQing", "Pokkali", "Nagina22.b", "Shuhui498", "CO39"]
VCF_CULTIVARS = CULTIVARS[16:]          # reference-mapped: peaks on the reference, given as VCF
VARIETIES_VCF = ["IRIS_313-11001", "IRIS_313-11002"]   # in varieties.vcf.gz (+ 2 samples not in the sheet)
VARIETY_SINGLE = "B001"                  # alone in B001.vcf.gz (csi index), sheet leaves `sample` empty
VARIETY_FASTA = "CX140"                  # own assembly
EXTRA_VCF_SAMPLES = ["IRIS_313-11098", "IRIS_313-11099"]
SAMPLES = CULTIVARS + VARIETIES_VCF + [VARIETY_SINGLE, VARIETY_FASTA] + EXTRA_VCF_SAMPLES
VARIETIES = VARIETIES_VCF + [VARIETY_SINGLE, VARIETY_FASTA]


# ---------------------------------------------------------------- grammar (truth)
def find_all(seq, motif):
    return np.array([m.start() for m in re.finditer("(?=%s)" % motif, seq)], dtype=np.int64)


def truth(seq):
    """seq: upper-case str. Returns dict mark -> list of (start, end)."""
    L = len(seq)
    ev = []
    for m, kind in ((TB, "T"), (rc(TB), "T"), (GA, "G"), (rc(GA), "G")):
        for s in find_all(seq, m):
            ev.append((int(s), int(s) + 7, kind))
    ev.sort()
    k27 = []
    starts = np.array([e[0] for e in ev])
    for i, (s, _, _) in enumerate(ev):
        j = np.searchsorted(starts, s + 800 - 7, side="right")
        sub = [e for e in ev[i:j] if e[1] <= s + 800]
        if sum(e[2] == "T" for e in sub) >= 3 and any(e[2] == "G" for e in sub):
            k27.append((max(0, s - 2000), min(L, max(e[1] for e in sub) + 2000)))
    k27 = merge(k27)
    k4 = []
    p1, p2 = find_all(seq, P1), find_all(seq, P2)
    for i in p1:  # + strand: P1 ... P2
        js = p2[(p2 - (i + 6) >= 30) & (p2 - (i + 6) <= 200)]
        for j in js:
            k4.append((i, j + 6, max(0, i - 300), min(L, j + 6 + 900)))
    q1, q2 = find_all(seq, rc(P1)), find_all(seq, rc(P2))
    for i in q1:  # - strand: rc(P2) ... rc(P1)
        js = q2[(i - (q2 + 6) >= 30) & (i - (q2 + 6) <= 200)]
        for j in js:
            k4.append((j, i + 6, max(0, j - 900), min(L, i + 6 + 300)))
    out4 = []
    for a, b, s, e in k4:
        mid = (a + b) // 2
        if not any(x <= mid < y for x, y in k27):
            out4.append((s, e))
    return {"H3K4me3": merge(out4), "H3K27me3": k27}


def merge(iv):
    iv = sorted(iv)
    out = []
    for s, e in iv:
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


# ---------------------------------------------------------------- sequence helpers
def rand_seq(rng, n, gc):
    p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
    return np.frombuffer(b"ACGT", np.uint8)[rng.choice(4, n, p=p)].tobytes().decode()


def mutate(rng, s, pos):
    b = s[pos]
    alt = rng.choice([x for x in "ACGT" if x != b])
    return s[:pos] + alt + s[pos + 1:]


ALLM = [P1, P2, TB, GA, rc(P1), rc(P2), rc(TB), rc(GA)]
MOTIF_RE = re.compile("(?=(%s))" % "|".join(ALLM))


def scrub(rng, seq):
    seq = list(seq)
    while True:
        s = "".join(seq)
        hits = [m.start() for m in MOTIF_RE.finditer(s)]
        if not hits:
            return s
        for h in hits:
            p = h + 3
            seq[p] = rng.choice([x for x in "ACGT" if x != seq[p]])


def near(rng, motif):
    """One-mismatch version of motif, and the position of the mismatch."""
    p = int(rng.integers(1, len(motif) - 1))
    return mutate(rng, motif, p), p


# ---------------------------------------------------------------- build the reference
def build_reference(rng):
    chroms, feats, protect = {}, [], {}
    for name, L in CHROMS:
        # background with GC varying per 5 kb block (rice ~ 43% GC)
        blocks = []
        for b in range(0, L, 5000):
            blocks.append(rand_seq(rng, min(5000, L - b), float(rng.uniform(0.36, 0.50))))
        seq = "".join(blocks)
        occupied = np.zeros(L, bool)
        # assembly gaps (N runs): placed later, but reserve them now
        gaps = []
        for _ in range(2):
            g = int(rng.integers(3000, 20000)); s = int(rng.integers(20000, L - 40000))
            gaps.append((s, s + g))
        for _ in range(4):
            g = int(rng.integers(50, 600)); s = int(rng.integers(5000, L - 5000))
            gaps.append((s, s + g))
        for s, e in gaps:
            occupied[max(0, s - 3000):e + 3000] = True
        mb = L / 1e6
        plan = ([("k4_active", 40), ("k4_p1only", 10), ("k4_p2only", 10), ("k4_far", 10),
                 ("k4_wrongorder", 10), ("k4_nearpair", 12), ("k4_island", 10)] +
                [("k27_cluster", 7), ("k27_silencer", 3), ("k27_2T_G_nearT", 6), ("k27_3T_nearG", 6),
                 ("k27_gaga", 6), ("k27_scattered", 6)])
        items = []
        for kind, per_mb in plan:
            items += [kind] * int(round(per_mb * mb))
        rng.shuffle(items)
        seq = list(seq)
        plants = []
        for kind in items:
            span = 10000 if kind.startswith("k27") else 4000
            for _ in range(1000):
                s = int(rng.integers(3000, L - span - 3000))
                if not occupied[s - 500:s + span + 500].any():
                    break
            else:
                continue
            occupied[s - 500:s + span + 500] = True
            plants.append((kind, s, span))
        # GC-rich islands at every K4-type slot and at silencers (promoter context)
        for kind, s, span in plants:
            if kind.startswith("k4") or kind == "k27_silencer":
                c = s + span // 2
                seq[c - 350:c + 350] = list(rand_seq(rng, 700, 0.62))
        # repeats: a 3 kb "transposon" family copied with 4% divergence into free space
        te = rand_seq(rng, 3000, 0.40)
        repeats = []
        for _ in range(int(8 * mb)):
            for _ in range(1000):
                s = int(rng.integers(1000, L - 4000))
                if not occupied[s:s + 3000].any():
                    break
            else:
                continue
            cp = list(te)
            for p in rng.choice(3000, 120, replace=False):
                cp[p] = rng.choice([x for x in "ACGT" if x != cp[p]])
            seq[s:s + 3000] = cp
            repeats.append((s, s + 3000))
            occupied[s:s + 3000] = True
        seq = scrub(rng, "".join(seq))
        seq = list(seq)
        prot = []  # positions to keep free of random variants (motifs and near-motifs), with the roles

        def put(pos, motif, role):
            seq[pos:pos + len(motif)] = list(motif)
            prot.append((pos, pos + len(motif), role))

        for kind, s, span in plants:
            c = s + span // 2
            strand = rng.choice(["+", "-"])
            f = {"chrom": name, "kind": kind, "start": s, "end": s + span, "strand": strand, "motifs": []}
            def pair(gap_lo, gap_hi, first, second, cpos):
                gap = int(rng.integers(gap_lo, gap_hi + 1))
                a, b = (first, second) if strand == "+" else (rc(second), rc(first))
                put(cpos, a, "m"); put(cpos + 6 + gap, b, "m")
                return [(cpos, a), (cpos + 6 + gap, b)]
            if kind == "k4_active":
                f["motifs"] = pair(30, 200, P1, P2, c - 100)
            elif kind == "k4_island":
                pass
            elif kind == "k4_p1only":
                m = P1 if strand == "+" else rc(P1); put(c, m, "m"); f["motifs"] = [(c, m)]
            elif kind == "k4_p2only":
                m = P2 if strand == "+" else rc(P2); put(c, m, "m"); f["motifs"] = [(c, m)]
            elif kind == "k4_far":
                f["motifs"] = pair(260, 500, P1, P2, c - 300)
            elif kind == "k4_wrongorder":
                f["motifs"] = pair(30, 200, P2, P1, c - 100)
            elif kind == "k4_nearpair":
                gap = int(rng.integers(30, 201))
                n2, mp = near(rng, P2)
                if strand == "+":
                    put(c - 100, P1, "m"); put(c - 100 + 6 + gap, n2, "near")
                    f["fix"] = (c - 100 + 6 + gap + mp, P2[mp])
                else:
                    put(c - 100, rc(n2), "near"); put(c - 100 + 6 + gap, rc(P1), "m")
                    f["fix"] = (c - 100 + (5 - mp), rc(P2)[5 - mp])
            elif kind in ("k27_cluster", "k27_silencer", "k27_2T_G_nearT", "k27_3T_nearG", "k27_scattered"):
                spread = 2500 if kind == "k27_scattered" else 700
                base = c - spread // 2
                offs = sorted(rng.choice(np.arange(0, spread - 10, 12), 4, replace=False))
                roles = ["T", "T", "T", "G"]
                if kind == "k27_2T_G_nearT":
                    roles = ["T", "T", "nearT", "G"]
                if kind == "k27_3T_nearG":
                    roles = ["T", "T", "T", "nearG"]
                rng.shuffle(roles)
                for o, r in zip(offs, roles):
                    m = {"T": TB, "G": GA, "nearT": TB, "nearG": GA}[r]
                    if r.startswith("near"):
                        m2, mp = near(rng, m)
                        if rng.random() < 0.5:
                            put(base + o, rc(m2), "near"); f["fix"] = (base + o + 6 - mp, rc(m)[6 - mp])
                        else:
                            put(base + o, m2, "near"); f["fix"] = (base + o + mp, m[mp])
                    else:
                        mm = m if rng.random() < 0.5 else rc(m)
                        put(base + o, mm, "m"); f["motifs"].append((base + o, mm))
                if kind == "k27_silencer":   # an active K4 pair inside the cluster: silenced
                    gap = int(rng.integers(30, 120))
                    # placed after all cluster motifs (not between them)
                    p = base + spread + 20
                    put(p, P1, "m"); put(p + 6 + gap, P2, "m")
            elif kind == "k27_gaga":
                m = "GA" * int(rng.integers(6, 15)); put(c, m, "m")
            feats.append(f)
        seq = "".join(seq)
        # soft-masking: repeats and random stretches lower-case
        arr = bytearray(seq.encode())
        low = list(repeats)
        for _ in range(int(60 * mb)):
            s = int(rng.integers(0, L - 3000)); low.append((s, s + int(rng.integers(150, 2500))))
        for s, e in low:
            arr[s:e] = arr[s:e].lower()
        for s, e in gaps:
            arr[s:e] = b"N" * (e - s)
        chroms[name] = arr.decode()
        protect[name] = prot
    chroms[UNPLACED[0]] = rand_seq(rng, UNPLACED[1], 0.45).lower()[:700] + rand_seq(rng, UNPLACED[1] - 700, 0.45)
    return chroms, feats, protect


# ---------------------------------------------------------------- variants
def build_variants(rng, ref, feats, protect):
    """Sites: dict with chrom, pos (0-based), REF, ALTs list, carriers {sample: allele index (1..)}"""
    sites = []
    taken = {c: np.zeros(len(s), bool) for c, s in ref.items()}
    for c, s in ref.items():
        up = s.upper()
        nmask = np.frombuffer(up.encode(), np.uint8) == ord("N")
        taken[c] |= nmask
        for a, b, _ in protect.get(c, []):
            taken[c][max(0, a - 8):b + 8] = True
    # events first: SNPs at motif positions
    evs = {"k4_destroy": [f for f in feats if f["kind"] == "k4_active"],
           "k4_create": [f for f in feats if f["kind"] == "k4_nearpair"],
           "k27_destroy": [f for f in feats if f["kind"] in ("k27_cluster", "k27_silencer")],
           "k27_create": [f for f in feats if f["kind"] in ("k27_2T_G_nearT", "k27_3T_nearG")]}
    n_private = {"k4_destroy": 6, "k4_create": 4, "k27_destroy": 4, "k27_create": 4}
    n_shared = {"k4_destroy": 30, "k4_create": 12, "k27_destroy": 10, "k27_create": 10}
    planted = []
    for kind, pool in evs.items():
        idx = rng.permutation(len(pool))
        k = 0
        jobs = [("private", v) for v in VARIETIES for _ in range(n_private[kind])] + \
               [("shared", None)] * n_shared[kind]
        for mode, v in jobs:
            if k >= len(idx):
                break
            f = pool[idx[k]]; k += 1
            c = f["chrom"]
            if kind.endswith("create"):
                pos, alt = f["fix"]
            else:
                mpos, m = f["motifs"][int(rng.integers(len(f["motifs"])))]
                o = int(rng.integers(1, len(m) - 1))
                pos = mpos + o
                alt = rng.choice([x for x in "ACGT" if x != ref[c][pos].upper()])
            if mode == "private":
                carriers = {v: 1}
            else:
                fr = rng.uniform(0.1, 0.5)
                carriers = {s: 1 for s in SAMPLES if rng.random() < fr}
            sites.append({"chrom": c, "pos": int(pos), "REF": ref[c][pos].upper(), "ALT": [alt],
                          "carriers": carriers, "event": kind, "feature": f["kind"], "mode": mode,
                          "private_to": v})
            taken[c][pos - 1:pos + 2] = True
            planted.append(sites[-1])
    # random SNPs and indels
    for c, s in ref.items():
        L = len(s)
        up = s.upper()
        for kind, per_kb in (("snp", 2.5), ("indel", 0.25), ("multi", 0.02)):
            n = int(L / 1000 * per_kb)
            for pos in rng.integers(1, L - 30, n):
                pos = int(pos)
                if kind == "indel":
                    ln = int(min(rng.geometric(0.35), 15))
                    if taken[c][pos - 1:pos + ln + 2].any():
                        continue
                    if rng.random() < 0.5:
                        REF, ALT = up[pos:pos + 1 + ln], up[pos]
                    else:
                        REF, ALT = up[pos], up[pos] + rand_seq(rng, ln, 0.4)
                    alts = [ALT]
                else:
                    if taken[c][pos - 1:pos + 2].any():
                        continue
                    REF = up[pos]
                    others = [x for x in "ACGT" if x != REF]
                    alts = list(rng.choice(others, 2 if kind == "multi" else 1, replace=False))
                fr = rng.uniform(0.03, 0.9)
                carriers = {}
                for smp in SAMPLES:
                    if rng.random() < fr:
                        carriers[smp] = int(rng.integers(1, len(alts) + 1))
                if not carriers:
                    continue
                taken[c][pos - 1:pos + len(REF) + 1] = True
                sites.append({"chrom": c, "pos": pos, "REF": REF, "ALT": alts, "carriers": carriers,
                              "event": None})
    order = {c: i for i, c in enumerate(ref)}
    sites.sort(key=lambda x: (order[x["chrom"]], x["pos"]))
    return sites, planted


def consensus(ref_seq, vs):
    """vs: sorted list of (pos, REF, ALT). Returns (seq, c2r, r2c)."""
    parts, maps = [], []
    r = 0
    for pos, REF, ALT in vs:
        parts.append(ref_seq[r:pos]); maps.append(np.arange(r, pos))
        parts.append(ALT)
        k = min(len(REF), len(ALT))
        m = list(range(pos, pos + k)) + [pos + k - 1] * (len(ALT) - k)
        maps.append(np.array(m, dtype=np.int64))
        r = pos + len(REF)
    parts.append(ref_seq[r:]); maps.append(np.arange(r, len(ref_seq)))
    seq = "".join(parts)
    c2r = np.concatenate(maps).astype(np.int64)
    r2c = np.full(len(ref_seq), -1, np.int64)
    r2c[c2r[::-1]] = np.arange(len(seq))[::-1]  # first consensus base of each ref base
    idx = np.where(r2c >= 0, np.arange(len(ref_seq)), 0)
    np.maximum.accumulate(idx, out=idx)
    r2c = r2c[idx]
    return seq, c2r, r2c


def sample_variants(sites, smp):
    out = {}
    for st in sites:
        a = st["carriers"].get(smp)
        if a:
            out.setdefault(st["chrom"], []).append((st["pos"], st["REF"], st["ALT"][a - 1]))
    return out


# ---------------------------------------------------------------- writers
def write_fasta(path, seqs, width, desc=""):
    with open(path, "w") as fh:
        for name, s in seqs.items():
            fh.write(">%s%s\n" % (name, desc.format(name=name) if desc else ""))
            for i in range(0, len(s), width):
                fh.write(s[i:i + width] + "\n")


def write_bed(path, d, chroms_order):
    with open(path, "w") as fh:
        for c in chroms_order:
            for s, e in d.get(c, []):
                fh.write("%s\t%d\t%d\n" % (c, s, e))


def noisy_peaks(rng, tr, lens, mark):
    """truth intervals -> called peaks with jitter, misses, fragments, false peaks."""
    out = []
    for c, iv in tr.items():
        for s, e in iv:
            if rng.random() < 0.04:
                continue
            j = 80 if mark == "H3K4me3" else 300
            s2 = max(0, int(s + rng.normal(0, j))); e2 = int(e + rng.normal(0, j))
            if e2 <= s2 + 50:
                continue
            if mark == "H3K27me3" and rng.random() < 0.2 and e2 - s2 > 2500:
                cut = int(rng.integers(s2 + 800, e2 - 800)); g = int(rng.integers(200, 600))
                out += [(c, s2, cut), (c, cut + g, e2)]
            else:
                out.append((c, s2, e2))
        n_false = int(0.03 * len(iv)) + (1 if iv else 0)
        for _ in range(n_false):
            w = int(rng.integers(300, 900)) if mark == "H3K4me3" else int(rng.integers(1500, 4000))
            if lens[c] < 2 * w:
                continue
            s = int(rng.integers(0, lens[c] - w)); out.append((c, s, s + w))
    return out


def write_peaks(path, peaks, fmt, rng, lens, order):
    peaks = sorted(peaks, key=lambda x: (order[x[0]], x[1]))
    lines = []
    if fmt == "bed_track":
        lines.append('track name="H3K27me3 domains" description="SICER broad domains" useScore=0')
    for i, (c, s, e) in enumerate(peaks):
        e = min(e, lens[c]) if fmt != "narrowPeak" else e  # MACS2 may run past the end
        sig = float(rng.uniform(2, 40)); p = float(rng.uniform(3, 80)); q = max(0.0, p - 2)
        name = "%s_peak_%d" % (os.path.basename(path).split(".")[0], i + 1)
        if fmt == "narrowPeak":
            lines.append("%s\t%d\t%d\t%s\t%d\t.\t%.5f\t%.5f\t%.5f\t%d" % (
                c, s, e, name, min(1000, int(p * 10)), sig, p, q, int(rng.integers(0, max(1, e - s)))))
        elif fmt == "broadPeak":
            lines.append("%s\t%d\t%d\t%s\t%d\t.\t%.5f\t%.5f\t%.5f" % (c, s, e, name, min(1000, int(p * 10)), sig, p, q))
        else:
            lines.append("%s\t%d\t%d\t%s\t%d\t." % (c, s, e, name, min(1000, int(p * 10))))
    txt = "\n".join(lines) + "\n"
    if path.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(txt)
    else:
        with open(path, "w") as fh:
            fh.write(txt)


def write_vcf(path, sites, samples, ref, index_csi=False, fmt_extra=False, rng=None):
    hdr = ["##fileformat=VCFv4.2", "##source=outside_panel_generator",
           "##reference=file://reference.fa"]
    for c, s in ref.items():
        hdr.append("##contig=<ID=%s,length=%d>" % (c, len(s)))
    hdr += ['##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count">',
            '##INFO=<ID=AN,Number=1,Type=Integer,Description="Total alleles">',
            '##FILTER=<ID=LowQual,Description="Low quality">',
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
            '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">',
            '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">',
            '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">']
    hdr.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples))
    rows = []
    for st in sites:
        gts = []
        any_alt = False
        for smp in samples:
            a = st["carriers"].get(smp)
            if a:
                any_alt = True
                het = smp.startswith("IRIS") and st["event"] is None and rng.random() < 0.05
                gt = "0/%d" % a if het else "%d/%d" % (a, a)
            else:
                gt = "./." if rng.random() < 0.01 else "0/0"
            dp = int(rng.integers(5, 40))
            if fmt_extra:
                ad = ",".join(str(int(rng.integers(0, dp))) for _ in range(1 + len(st["ALT"])))
                gts.append("%s:%s:%d:%d" % (gt, ad, dp, int(rng.integers(10, 99))))
            else:
                gts.append("%s:%d" % (gt, dp))
        if not any_alt:
            continue
        an = 2 * len(samples)
        ac = ",".join(str(2 * sum(1 for smp in samples if st["carriers"].get(smp) == k + 1)) for k in range(len(st["ALT"])))
        filt = "LowQual" if rng.random() < 0.01 else "PASS"
        rows.append("%s\t%d\t.\t%s\t%s\t%.1f\t%s\tAC=%s;AN=%d\t%s\t%s" % (
            st["chrom"], st["pos"] + 1, st["REF"], ",".join(st["ALT"]), float(rng.uniform(30, 3000)),
            filt, ac, an, "GT:AD:DP:GQ" if fmt_extra else "GT:DP", "\t".join(gts)))
    plain = path[:-3]
    with open(plain, "w") as fh:
        fh.write("\n".join(hdr + rows) + "\n")
    pysam.tabix_index(plain, preset="vcf", force=True, csi=index_csi)
    return len(rows)


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="benchmarks/data/outside_panel",
                    help="panel directory (removed and rewritten if it holds a panel)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rundir", default=".",
                    help="where snakemake runs (sheet paths are relative to it; default: here)")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    out = os.path.abspath(a.out)
    if os.path.exists(out):
        if os.listdir(out) and not os.path.exists(os.path.join(out, "reference.fa")):
            ap.error("%s exists and does not look like a panel (no reference.fa): not removing it" % out)
        shutil.rmtree(out)
    for d in ("cultivars", "varieties", "peaks", "truth", "vcf"):
        os.makedirs(os.path.join(out, d))
    ref, feats, protect = build_reference(rng)
    lens = {c: len(s) for c, s in ref.items()}
    order = {c: i for i, c in enumerate(ref)}
    write_fasta(os.path.join(out, "reference.fa"), ref, 60,
                " Oryza sativa Nipponbare-like {name} (outside test panel)")
    sites, planted = build_variants(rng, ref, feats, protect)
    # reference truth
    ref_truth = {m: {} for m in ("H3K4me3", "H3K27me3")}
    for c, s in ref.items():
        t = truth(s.upper())
        for m in t:
            ref_truth[m][c] = t[m]
    for m in ref_truth:
        write_bed(os.path.join(out, "truth", "reference.%s.bed" % m), ref_truth[m], list(ref))
    summary = {"samples": {}}
    training_rows = []
    for si, smp in enumerate(SAMPLES):
        sv = sample_variants(sites, smp)
        cons, c2rs, r2cs = {}, {}, {}
        for c, s in ref.items():
            seq, c2r, r2c = consensus(s, sv.get(c, []))
            cons[c], c2rs[c], r2cs[c] = seq, c2r, r2c
        own_fasta = smp in CULTIVARS and smp not in VCF_CULTIVARS or smp == VARIETY_FASTA
        if own_fasta and smp != VARIETY_FASTA:   # cultivar-specific assembly gap (5 kb of N)
            c = list(ref)[si % 6]
            s0 = int(rng.integers(50000, lens[c] - 60000))
            q = cons[c]
            cons[c] = q[:s0] + "N" * 5000 + q[s0 + 5000:]
        tr = {m: {} for m in ref_truth}
        for c, q in cons.items():
            t = truth(q.upper())
            for m in t:
                tr[m][c] = t[m]
        # truth on the sample's own coordinates, and lifted onto the reference's
        tr_ref = {m: {c: merge([(int(c2rs[c][s]), int(c2rs[c][e - 1]) + 1) for s, e in iv])
                      for c, iv in tr[m].items()} for m in tr}
        for m in tr:
            write_bed(os.path.join(out, "truth", "%s.%s.own.bed" % (smp, m)), tr[m], list(ref))
            write_bed(os.path.join(out, "truth", "%s.%s.ref.bed" % (smp, m)), tr_ref[m], list(ref))
        if smp in VARIETIES:
            np.savez_compressed(os.path.join(out, "truth", "%s.maps.npz" % smp),
                                **{"c2r_" + c: c2rs[c] for c in ref}, **{"r2c_" + c: r2cs[c] for c in ref})
        if smp in VARIETIES or smp in VCF_CULTIVARS or smp == "Kasalath":   # sequences the scorer needs, not given to ntpipe
            os.makedirs(os.path.join(out, "truth", "consensus"), exist_ok=True)
            write_fasta(os.path.join(out, "truth", "consensus", "%s.fa" % smp), cons, 100)
        summary["samples"][smp] = {m: sum(len(v) for v in tr[m].values()) for m in tr}
        summary["samples"][smp]["n_variants"] = sum(len(v) for v in sv.values())
        if smp in CULTIVARS:
            if own_fasta:
                width = 80 if si % 2 else 60
                fa = os.path.join(out, "cultivars", "%s.fa" % smp)
                write_fasta(fa, cons, width)
                if smp == "Kasalath":   # bgzipped genome
                    pysam.tabix_compress(fa, fa + ".gz", force=True); os.remove(fa)
                    pysam.faidx(fa + ".gz"); fa = fa + ".gz"
            own_lens = {c: len(q) for c, q in cons.items()}
            for m in ("H3K4me3", "H3K27me3"):
                src = tr[m] if own_fasta else tr_ref[m]
                pl = own_lens if own_fasta else lens
                pk = noisy_peaks(rng, src, pl, m)
                if m == "H3K4me3":
                    if smp == "IR64":   # MACS2 ran a peak past chr06's end
                        pk.append(("chr06", pl["chr06"] - 300, pl["chr06"] + 120))
                    fmt, ext = "narrowPeak", ("narrowPeak.gz" if si % 3 == 0 else "narrowPeak")
                else:
                    fmt, ext = (("bed_track", "bed") if smp in ("Azucena", "DJ123") else
                                ("bed6", "bed") if si % 4 == 1 else ("broadPeak", "broadPeak"))
                path = os.path.join(out, "peaks", "%s.%s.%s" % (smp, m, ext))
                write_peaks(path, pk, fmt, rng, pl, order)
                training_rows.append((smp, m, "" if not own_fasta else fa, "" if own_fasta else "vcf/cultivars.vcf.gz",
                                      "" if own_fasta else smp, path))
        if smp == VARIETY_FASTA:
            write_fasta(os.path.join(out, "varieties", "%s.fa" % smp), cons, 70)
    # VCFs
    n1 = write_vcf(os.path.join(out, "vcf", "cultivars.vcf.gz"), sites, VCF_CULTIVARS, ref, rng=rng)
    n2 = write_vcf(os.path.join(out, "vcf", "varieties.vcf.gz"), sites, VARIETIES_VCF + EXTRA_VCF_SAMPLES, ref,
                   rng=rng, fmt_extra=True)
    n3 = write_vcf(os.path.join(out, "vcf", "B001.vcf.gz"), sites, [VARIETY_SINGLE], ref, index_csi=True,
                   fmt_extra=True, rng=rng)
    summary["vcf_records"] = {"cultivars": n1, "varieties": n2, "B001": n3}
    # sheets (paths relative to the run directory, --rundir)
    rel = os.path.relpath(out, a.rundir)

    def j(x):   # a path under out (absolute) or one relative to out -> relative to the run directory
        return os.path.join(rel, os.path.relpath(x, out)) if x.startswith("/") else (os.path.join(rel, x) if x else "")

    with open(os.path.join(out, "training.tsv"), "w") as fh:
        fh.write("cultivar\tmark\tgenome\tvcf\tsample\tpeaks\n")
        for cu, m, g, v, s, p in training_rows:
            fh.write("\t".join([cu, m, j(g), j(v), s, j(p)]) + "\n")
    with open(os.path.join(out, "varieties.tsv"), "w") as fh:
        fh.write("variety\tgenome\tvcf\tsample\n")
        for v in VARIETIES_VCF:
            fh.write("%s\t\t%s/vcf/varieties.vcf.gz\t%s\n" % (v, rel, v))
        fh.write("%s\t\t%s/vcf/B001.vcf.gz\t\n" % (VARIETY_SINGLE, rel))
        fh.write("%s\t%s/varieties/%s.fa\t\t\n" % (VARIETY_FASTA, rel, VARIETY_FASTA))
    with open(os.path.join(out, "truth", "planted.tsv"), "w") as fh:
        fh.write("chrom\tpos1\tref\talt\tevent\tfeature\tmode\tprivate_to\tcarriers\n")
        for st in planted:
            fh.write("%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" % (st["chrom"], st["pos"] + 1, st["REF"], st["ALT"][0],
                     st["event"], st["feature"], st["mode"], st["private_to"], ",".join(sorted(st["carriers"]))))
    with open(os.path.join(out, "truth", "features.tsv"), "w") as fh:
        fh.write("chrom\tstart\tend\tkind\tstrand\n")
        for f in feats:
            fh.write("%s\t%d\t%d\t%s\t%s\n" % (f["chrom"], f["start"], f["end"], f["kind"], f["strand"]))
    summary["reference"] = {m: sum(len(v) for v in ref_truth[m].values()) for m in ref_truth}
    summary["reference_bp"] = {m: sum(e - s for v in ref_truth[m].values() for s, e in v) for m in ref_truth}
    summary["genome_bp"] = sum(lens.values())
    json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1, default=int)
    print(json.dumps({k: summary[k] for k in ("reference", "reference_bp", "genome_bp", "vcf_records")}, default=int))


if __name__ == "__main__":
    main()
