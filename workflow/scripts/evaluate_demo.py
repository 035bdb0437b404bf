"""Snakemake adapter: score the demo's tracks against its ground truth (ntpipe.steps.evaluate_demo)."""

from ntpipe.logs import setup_logging
from ntpipe.steps import evaluate_demo

setup_logging(snakemake.log[0], threads=snakemake.threads)
p = snakemake.params
evaluate_demo(p.varieties, p.marks, p.truth, p.events, "results/tracks", p.stride, snakemake.output[0], effects=p.effects)
