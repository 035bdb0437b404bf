"""Snakemake adapter: every sample's applied variants of one VCF (ntpipe.vcfstore.extract_variants)."""

from ntpipe.logs import setup_logging
from ntpipe.vcfstore import extract_variants

if __name__ == "__main__":  # the worker processes (spawned) import this file again: run it once
    setup_logging(snakemake.log[0])
    extract_variants(
        snakemake.input.vcf, snakemake.input.reference, snakemake.output[0],
        aliases=snakemake.params.chrom_aliases, threads=snakemake.threads,
    )
