"""Snakemake adapter: the consensus FASTA of a VCF variety or cultivar (ntpipe.variants.write_consensus)."""

from ntpipe.logs import setup_logging
from ntpipe.variants import write_consensus

setup_logging(snakemake.log[0])
p = snakemake.params
write_consensus(snakemake.input.reference, snakemake.input.vcf, p.sample, snakemake.output[0], aliases=p.chrom_aliases)
