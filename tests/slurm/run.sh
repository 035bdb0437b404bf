#!/usr/bin/env bash
# End-to-end test of the SLURM profile: the workflow at test scale on a
# throwaway one-node SLURM cluster, through the Snakemake SLURM executor plugin.
#
#   bash tests/slurm/run.sh [WORKDIR]
#
# Needs root on Debian/Ubuntu (installs slurm-wlm, slurmdbd, munge and
# mariadb-server with apt-get when missing) and the venv with the plugin:
# .venv/bin/pip install -e '.[test,slurm]'. It simulates the test panel into
# WORKDIR (default: a new temporary directory), runs
# `snakemake --workflow-profile workflow/profiles/slurm` there with
# tests/slurm/config.yaml, checks with sacct that the jobs ran through SLURM
# (the GPU rules with a GPU allocated), opens every bigWig the sheets name,
# then stops the cluster. The test node advertises fake GPUs (see
# cluster.sh), so the shipped profile's `gpu: 1` requests go through
# unchanged and the jobs fall back to the CPU. Prints PASS or FAIL; the exit
# status says the same. NTPIPE_SLURM_KEEP=1 keeps the cluster's directory
# and WORKDIR for debugging (they are kept on failure anyway).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$REPO/tests/slurm
VENV=${NTPIPE_VENV:-$REPO/.venv}
WORK=${1:-$(mktemp -d /tmp/ntpipe-slurm-run.XXXXXX)}
export NTPIPE_SLURM_DIR=${NTPIPE_SLURM_DIR:-$WORK/cluster}
export SLURM_CONF=$NTPIPE_SLURM_DIR/etc/slurm.conf
export PATH=$VENV/bin:$PATH
START=$(date +%s)

log() { echo "[run.sh] $*" >&2; }

finish() {
    local rc=$?
    set +e
    if ((rc != 0)); then
        export NTPIPE_SLURM_KEEP=1
        if [[ -e $SLURM_CONF ]]; then
            sacct -a -X -o JobID,State,ExitCode,Elapsed,AllocTRES%45,Comment%60 >&2
        fi
    fi
    bash "$HERE/cluster.sh" stop
    local elapsed=$(($(date +%s) - START))
    if ((rc == 0)); then
        [[ ${NTPIPE_SLURM_KEEP:-0} == 1 ]] || rm -rf "$WORK"
        echo "PASS: SLURM end-to-end run in ${elapsed}s"
    else
        echo "FAIL: SLURM end-to-end run (exit $rc after ${elapsed}s); kept $WORK" \
            "(Snakemake log under .snakemake/log, SLURM job logs under logs/slurm," \
            "daemon logs under $NTPIPE_SLURM_DIR/log)"
    fi
    exit "$rc"
}
trap finish EXIT

python -c "import snakemake_executor_plugin_slurm" 2>/dev/null \
    || { log "the SLURM plugin is missing: $VENV/bin/pip install -e '$REPO[slurm]'"; exit 1; }

bash "$HERE/cluster.sh" install
bash "$HERE/cluster.sh" start

mkdir -p "$WORK"
cd "$WORK"
log "simulating the test panel in $WORK/panel"
ntpipe simulate --out panel --scale test --seed 1

# The shipped profile unchanged, except polling: the first sacct poll 2 s
# after submission instead of 40 s, and keep the SLURM logs to inspect.
log "running the workflow through SLURM"
snakemake --snakefile "$REPO/Snakefile" \
    --workflow-profile "$REPO/workflow/profiles/slurm" \
    --configfile "$HERE/config.yaml" \
    --config samples=panel/training.tsv varieties=panel/varieties.tsv reference=panel/reference.fa annotation=panel/truth/genes.gff3 \
    --slurm-init-seconds-before-status-checks 2 \
    --slurm-keep-successful-logs

# The same workflow, same seed, locally (no SLURM) in a sibling directory:
# the tracks must match (tests below).
log "running the same workflow locally for comparison"
mkdir -p local && ln -sfn ../panel local/panel
(cd local && snakemake --snakefile "$REPO/Snakefile" --cores 2 --resources gpu=1 \
    --configfile "$HERE/config.yaml" \
    --config samples=panel/training.tsv varieties=panel/varieties.tsv reference=panel/reference.fa annotation=panel/truth/genes.gff3)

log "checking the SLURM accounting and the tracks"
sacct -a -X -o JobID,State,ExitCode,Elapsed,AllocTRES%45,Comment%60 >&2
sacct -a -X -P -o JobID,State,ExitCode,Elapsed,AllocTRES,Comment > sacct.tsv
python - <<'PY'
import os
import sys

import pandas as pd
import pyBigWig

acct = pd.read_csv("sacct.tsv", sep="|", dtype=str, keep_default_na=False)
acct["rule"] = acct["Comment"].str.extract(r"^rule_(\w+?)(?:_wildcards_|$)", expand=False)
training = pd.read_csv("panel/training.tsv", sep="\t", dtype=str)
varieties = pd.read_csv("panel/varieties.tsv", sep="\t", dtype=str)
marks, names = sorted(training["mark"].unique()), list(varieties["variety"])
expected = {"encode_genome": training["cultivar"].nunique(), "build_labels": len(marks), "train_model": len(marks),
            "predict_variety": len(names)}  # the sessions are localrules: checked below as files
errors = []
for rule, n in expected.items():
    jobs = acct[acct["rule"] == rule]
    done = jobs[jobs["State"] == "COMPLETED"]
    if len(done) != n:
        errors.append(f"{rule}: {len(done)} COMPLETED SLURM jobs, expected {n} "
                      f"(states: {sorted(jobs['State'])})")
    if rule in ("train_model", "predict_variety"):
        no_gpu = done[~done["AllocTRES"].str.contains("gres/gpu=1")]
        if len(no_gpu):
            errors.append(f"{rule}: SLURM jobs {list(no_gpu['JobID'])} got no GPU allocated")
for name in names:
    for mark in marks:
        path = f"results/tracks/{name}/{mark}.bw"
        try:
            bw = pyBigWig.open(path)
        except (RuntimeError, OSError) as err:
            errors.append(f"{path}: cannot open ({err})")
            continue
        chroms = list(bw.chroms()) if bw is not None and bw.isBigWig() else []
        if not chroms:
            errors.append(f"{path}: not a bigWig with chromosomes")
            continue
        # stats() gives None for a chromosome without entries (all no-call bins).
        lows = [v for c in bw.chroms() for v in bw.stats(c, type="min") if v is not None]
        highs = [v for c in bw.chroms() for v in bw.stats(c, type="max") if v is not None]
        bw.close()
        if not lows:
            errors.append(f"{path}: no values")
        elif not 0.0 <= min(lows) <= max(highs) <= 1.0:
            errors.append(f"{path}: values outside [0, 1] ({min(lows)}, {max(highs)})")
        import numpy as np
        from ntpipe.bigwig import read_bins

        for chrom in chroms:
            here = read_bins(path, chrom, 100)
            there = read_bins(f"local/{path}", chrom, 100)
            if not np.allclose(here, there, atol=1e-5, equal_nan=True):
                errors.append(f"{path}: {chrom} differs from the local run's track "
                              f"(max difference {np.nanmax(np.abs(here - there)):.2g})")
    if not os.path.exists(f"results/tracks/{name}/igv_session.xml"):
        errors.append(f"results/tracks/{name}/igv_session.xml: missing")
for err in errors:
    print("check failed:", err, file=sys.stderr)
print(f"{len(acct)} SLURM jobs; {len(names)} varieties x {len(marks)} marks of bigWigs checked",
      file=sys.stderr)
sys.exit(1 if errors else 0)
PY
