# Every VCF of the two sheets (the varieties' and the reference-mapped
# cultivars') read once, on the CPU: each sample's applied variants,
# memory-mapped by the jobs that predict one variety or build one cultivar's
# consensus, so no GPU job parses a VCF (ntpipe/vcfstore.py). Kept: rerunning
# a variety reads its store.


rule extract_variants:
    input:
        vcf=get_store_vcf,
        reference=config["reference"],
    output:
        directory("results/variants/{vcf}"),
    log:
        "logs/extract_variants/{vcf}.log",
    benchmark:
        "results/benchmarks/extract_variants/{vcf}.tsv"
    params:
        chrom_aliases=config["chrom_aliases"],
        store_version=vcfstore.VERSION,  # a new layout or rule of the store extracts the VCFs again
    threads: 12
    resources:
        mem_mb=lambda wildcards, threads: 1000 + 600 * threads,
        runtime=240,
    conda:
        "../../envs/ntpipe.yaml"
    script:
        "../scripts/extract_variants.py"
