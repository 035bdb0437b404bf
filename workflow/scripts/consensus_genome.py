"""Snakemake adapter: a VCF variety's consensus FASTA (ntpipe.variants.write_consensus)."""

from ntpipe.logs import setup_logging
from ntpipe.variants import write_consensus

setup_logging(snakemake.log[0])
write_consensus(snakemake.input.reference, snakemake.input.vcf, snakemake.params.sample, snakemake.output[0])
