"""Snakemake adapter: one VCF variety's variant effects table (ntpipe.effects)."""

from ntpipe.logs import setup_logging
from ntpipe.steps import variety_effects

setup_logging(snakemake.log[0], threads=snakemake.threads)
p = snakemake.params
how = snakemake.config["prediction"]  # batch_size, device, cache: not params (common.smk, PREDICTION_PARAMS)
variety_effects(
    snakemake.input.variants, p.sample, snakemake.input.reference, snakemake.input.tracks, snakemake.input.reference_tracks,
    snakemake.input.models, p.marks, p.window["size"], p.window["stride"], snakemake.output[0], min_delta=p.min_delta,
    annotation=snakemake.input.get("annotation"), chrom_aliases=p.chrom_aliases, prediction={**how, **p.prediction},
    cache="results/cache" if how["cache"] else None,
)
