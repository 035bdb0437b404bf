"""Snakemake adapter: one mark's panel matrix (ntpipe.panel.write_panel)."""

import logging

from ntpipe.genome import chrom_sizes
from ntpipe.logs import setup_logging
from ntpipe.panel import write_panel

setup_logging(snakemake.log[0])
p = snakemake.params
if p.left_out:
    logging.getLogger("panel").info(
        "%d varieties are not on the reference's coordinates and are left out: %s", len(p.left_out), ", ".join(p.left_out)
    )
tracks = dict(zip(p.varieties, snakemake.input.tracks))
write_panel(snakemake.output.matrix, tracks, chrom_sizes(snakemake.input.reference), p.stride, p.min_spread)
