"""Snakemake adapter: the consensus FASTA of a VCF variety or cultivar (ntpipe.variants.write_consensus)."""

from ntpipe.logs import setup_logging
from ntpipe.variants import write_consensus
from ntpipe.vcfstore import load_variants

setup_logging(snakemake.log[0])
reference = snakemake.input.reference
variants = load_variants(snakemake.input.variants, snakemake.params.sample, reference)
write_consensus(reference, variants, snakemake.output[0])
