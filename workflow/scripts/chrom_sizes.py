"""Snakemake adapter: a consensus genome's chromosome sizes, for IGV (ntpipe.genome.write_chrom_sizes)."""

from ntpipe.genome import write_chrom_sizes
from ntpipe.logs import setup_logging

setup_logging(snakemake.log[0])
write_chrom_sizes(snakemake.input[0], snakemake.output[0])
