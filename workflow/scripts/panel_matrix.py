"""Snakemake adapter: one mark's panel matrix (ntpipe.panel.write_panel)."""

from ntpipe.genome import chrom_sizes
from ntpipe.logs import setup_logging
from ntpipe.panel import write_panel

setup_logging(snakemake.log[0])
p = snakemake.params  # the varieties on the reference's coordinates (FASTA varieties are on their own assemblies)
tracks = dict(zip(p.varieties, snakemake.input.tracks))
write_panel(snakemake.output.matrix, tracks, chrom_sizes(snakemake.input.reference), p.stride, p.min_spread)
