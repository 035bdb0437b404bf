#!/usr/bin/env bash
# What the project asks of a lent GPU (issue #10; benchmarks/README.md), for the device tool's machine:
#
#   bash benchmarks/gpu_session.sh bench     # pytest -m gpu, then run.py --only gpu (~6 min)
#   bash benchmarks/gpu_session.sh quality   # the seed preset's 5-fold CV on the real sets on the GPU (~5 min)
#
# Its image has python3 with torch but not pyfaidx, pyBigWig or pysam, and reaches no registry; the real sets
# (../shared/data) do not travel with the working tree. Prepare both here, once per session, in the repo's root:
#
#   printf '/.whl/\n/.gpudata/\n' >> .git/info/exclude
#   .venv/bin/python -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#       -d .whl pyfaidx==0.9.2.2 pyBigWig==0.3.29 pysam==0.24.1
#   cp -r ../shared/data .gpudata
#
# then run it with carry [".whl", ".gpudata"]. What it writes under $OUT comes back: card.txt, gpu_tests.log,
# results.json and README.md (benchmarks/'s, with the GPU rows merged in: copy them over benchmarks/), and
# quality_seed_gpu.md / .json (the seed preset's rows: keep them under that name beside quality.md, whose
# small-preset rows they must not replace); then record the card and the figures in the README.
set -uo pipefail
part=${1:?usage: gpu_session.sh bench|quality}
OUT=${OUT:?set OUT: the folder whose files come back}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv > "$OUT/card.txt" 2>&1
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))" >> "$OUT/card.txt" 2>&1

case $part in
bench)
    # only the files that hold GPU tests: the others import what the image lacks (jsonschema, cyvcf2)
    python3 -m pytest -q -m gpu -p no:cacheprovider $(grep -l "mark.gpu" tests/test_*.py) 2>&1 | tee "$OUT/gpu_tests.log"
    python3 benchmarks/run.py --only gpu || exit 1
    cp benchmarks/results.json benchmarks/README.md "$OUT/"
    ;;
quality)
    # the seed preset (d 512, 6 layers, 20 epochs at batch 64) with the small preset's warmup: its own 3,200
    # steps outlast a 2,000-row table's 500 (E. coli's strand turns its reverse-complement augmentation off by
    # itself, as in quality.md). One set per call, so that a set finished before a time-out is kept.
    for set in ecoli H3K4me3 H3K27me3 H3K9ac; do
        python3 benchmarks/quality.py --data .gpudata --device cuda --preset seed --sets "$set" --set warmup=300 \
            --demo-results none --out "$OUT/quality"
    done
    cp "$OUT/quality/quality.md" "$OUT/quality_seed_gpu.md"; cp "$OUT/quality/quality.json" "$OUT/quality_seed_gpu.json"
    rm -r "$OUT/quality"
    ;;
*)
    echo "unknown part $part: bench or quality" >&2
    exit 2
    ;;
esac
