"""Snakemake adapter: a variety's IGV session (ntpipe.igv.write_session)."""

from ntpipe.igv import write_session
from ntpipe.logs import setup_logging

setup_logging(snakemake.log[0])
tracks = dict(zip(snakemake.params.marks, snakemake.input.tracks))
write_session(snakemake.output[0], snakemake.input.genome, tracks, annotation=snakemake.input.get("annotation"))
