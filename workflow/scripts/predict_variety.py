"""Snakemake adapter: one variety's (or the reference's) tracks for every mark (ntpipe.predict.predict_genome)."""

from pathlib import Path

from ntpipe.logs import setup_logging
from ntpipe.predict import predict_genome

setup_logging(snakemake.log[0], threads=snakemake.threads)
p = snakemake.params
how = snakemake.config["prediction"]  # batch_size, device, cache: not params (common.smk, PREDICTION_PARAMS)
predict_genome(
    snakemake.input.models, snakemake.input.genome, Path(snakemake.output[0]).parent, names=p.marks,
    store=p.variants["store"], sample=p.variants["sample"], window=p.window["size"], stride=p.window["stride"],
    max_n_fraction=p.window["max_n_fraction"], batch_size=how["batch_size"], device=how["device"],
    reverse_complement=p.prediction["reverse_complement"], cache="results/cache" if how["cache"] else None,
)
