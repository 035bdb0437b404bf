"""Snakemake adapter: labelled, merged windows of one mark (ntpipe.trainset.build_labels)."""

from ntpipe.labels import LabelConfig
from ntpipe.logs import setup_logging
from ntpipe.trainset import build_labels

setup_logging(snakemake.log[0])
p = snakemake.params
cfg = LabelConfig(**p.window, **p.labels)
build_labels(p.rows, p.encoded, cfg, snakemake.output[0], reference=p.reference, chrom_aliases=p.chrom_aliases)
