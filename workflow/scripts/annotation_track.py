"""Snakemake adapter: the annotation's sorted, indexed copy on the reference's names (ntpipe.annotation)."""

from ntpipe.annotation import write_indexed_gff3
from ntpipe.genome import chrom_sizes
from ntpipe.logs import setup_logging

setup_logging(snakemake.log[0])
sizes = dict(chrom_sizes(snakemake.input.reference))
write_indexed_gff3(snakemake.input.gff3, snakemake.output.gff3, sizes, aliases=snakemake.params.chrom_aliases)
