"""Snakemake adapter: train and evaluate one mark's model (ntpipe.steps.train_mark)."""

from pathlib import Path

from ntpipe.logs import setup_logging
from ntpipe.steps import train_mark

setup_logging(snakemake.log[0], threads=snakemake.threads)
p = snakemake.params
train_mark(
    snakemake.input.labels, Path(snakemake.output.model).parent, mark=snakemake.wildcards.mark,
    window=p.window, split=p.split, model=p.model, training=p.training,
    # not a param: the labels (an input) are rebuilt when it changes
    chrom_aliases=snakemake.config["chrom_aliases"],
)
