"""Snakemake adapter: labelled, merged windows of one mark (ntpipe.trainset.build_labels)."""

from ntpipe.labels import LabelConfig
from ntpipe.logs import setup_logging
from ntpipe.trainset import build_labels

setup_logging(snakemake.log[0])
cfg = LabelConfig(**snakemake.params.window, **snakemake.params.labels)
build_labels(snakemake.params.rows, snakemake.params.encoded, cfg, snakemake.output[0],
             aliases=snakemake.params.chrom_aliases)
