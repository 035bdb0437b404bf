"""Snakemake adapter: one cultivar genome encoded for training (ntpipe.trainset.encode_genome)."""

from ntpipe.logs import setup_logging
from ntpipe.trainset import encode_genome

setup_logging(snakemake.log[0])
encode_genome(snakemake.input[0], snakemake.output[0], snakemake.params.window["size"], snakemake.params.window["stride"])
