"""Snakemake adapter: score the demo's tracks against its ground truth (ntpipe.steps.evaluate_demo)."""

from ntpipe.logs import setup_logging
from ntpipe.steps import evaluate_demo

setup_logging(snakemake.log[0], threads=snakemake.threads)
p = snakemake.params
how = snakemake.config["prediction"]  # batch_size, device, cache: not params (common.smk, PREDICTION_PARAMS)
effects = p.effects and {**p.effects, "prediction": {**how, **p.effects["prediction"]},
                         "cache": "results/cache" if how["cache"] else None}
evaluate_demo(p.varieties, p.marks, p.truth, p.events, "results/tracks", p.stride, snakemake.output[0], effects=effects)
