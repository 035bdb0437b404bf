"""Snakemake adapter: the panel's IGV session, varieties side by side (ntpipe.igv.write_panel_session)."""

from ntpipe.igv import write_panel_session
from ntpipe.logs import setup_logging

setup_logging(snakemake.log[0])
varieties, marks = snakemake.params.varieties, snakemake.params.marks
paths = iter(snakemake.input.tracks)  # mark by mark, varieties in order
tracks = {mark: {variety: next(paths) for variety in varieties} for mark in marks}
write_panel_session(snakemake.output[0], snakemake.input.reference, tracks, annotation=snakemake.input.get("annotation"))
