"""Snakemake adapter: labelled windows of one mark (ntpipe.labels.build_labels)."""

from ntpipe.labels import LabelConfig, build_labels
from ntpipe.logs import setup_logging

setup_logging(snakemake.log[0])
cfg = LabelConfig(**snakemake.params.window, **snakemake.params.labels)
build_labels(snakemake.params.rows, cfg, snakemake.output[0])
