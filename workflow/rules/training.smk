# Every cultivar genome encoded once; labelled windows per mark from every
# cultivar's peaks or BAM, merged across cultivars; then one model per mark.
# A cultivar given as a VCF against the reference gets its consensus genome
# first; its peaks or BAM, on the reference, are lifted onto it.
# The consensus genomes and the encoded ones are kept, not temp(): a job that
# writes one again (to retrain one mark) would make Snakemake retrain every
# other mark that reads it.


rule cultivar_genome:
    input:
        variants=lambda wildcards: get_cultivar_vcf(wildcards)["store"],
        reference=config["reference"],
    output:
        "results/genomes/cultivars/{cultivar}.fa",
        "results/genomes/cultivars/{cultivar}.fa.fai",
    log:
        "logs/cultivar_genome/{cultivar}.log",
    benchmark:
        "results/benchmarks/cultivar_genome/{cultivar}.tsv"
    params:
        sample=lambda wildcards: get_cultivar_vcf(wildcards)["sample"],
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/ntpipe.yaml"
    script:
        "../scripts/consensus_genome.py"


rule encode_genome:
    input:
        get_cultivar_genome,
    output:
        "results/encoded/{cultivar}.npy",
    log:
        "logs/encode_genome/{cultivar}.log",
    benchmark:
        "results/benchmarks/encode_genome/{cultivar}.tsv"
    params:
        window=config["window"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        "../../envs/ntpipe.yaml"
    script:
        "../scripts/encode_genome.py"


use rule encode_genome as encode_genome_sized with:  # for a mark with a window of its own (window.mark_sizes)
    output:
        "results/encoded/{size}bp/{cultivar}.npy",
    log:
        "logs/encode_genome/{size}bp/{cultivar}.log",
    benchmark:
        "results/benchmarks/encode_genome/{size}bp/{cultivar}.tsv"
    params:
        window=lambda wildcards: {**config["window"], "size": int(wildcards.size)},
    wildcard_constraints:
        size=r"\d+",


rule build_labels:
    input:
        unpack(get_label_input),
    output:
        temp("results/labels/{mark}.npz"),
    log:
        "logs/build_labels/{mark}.log",
    benchmark:
        "results/benchmarks/build_labels/{mark}.tsv"
    params:
        rows=lambda wildcards: get_mark_rows(wildcards.mark),
        window=lambda wildcards: mark_window(wildcards.mark),
        labels=config["labels"],
        encoded=get_encoded_genomes,
        reference=config["reference"],
        chrom_aliases=config["chrom_aliases"],
    threads: 1
    resources:
        mem_mb=16000,
        runtime=120,
    conda:
        "../../envs/ntpipe.yaml"
    script:
        "../scripts/build_labels.py"


rule train_model:
    input:
        labels="results/labels/{mark}.npz",
        encoded=lambda wildcards: list(get_encoded_genomes(wildcards).values()),
    output:
        model="results/models/{mark}/model.pt",
        metrics=report(
            "results/models/{mark}/metrics.json",
            caption="../report/metrics.rst",
            category="Models",
            subcategory="{mark}",
        ),
        baseline="results/models/{mark}/baseline.json",
        history="results/models/{mark}/holdout/history.tsv",
        curves=report(
            "results/models/{mark}/holdout/curves.png",
            caption="../report/curves.rst",
            category="Models",
            subcategory="{mark}",
        ),
        roc=report(
            "results/models/{mark}/holdout/roc_pr.png",
            caption="../report/roc_pr.rst",
            category="Models",
            subcategory="{mark}",
        ),
    log:
        "logs/train_model/{mark}.log",
    benchmark:
        "results/benchmarks/train_model/{mark}.tsv"
    params:
        window=lambda wildcards: mark_window(wildcards.mark),
        split=config["split"],
        model=lambda wildcards: steps.mark_model(config["model"], wildcards.mark),
        training=config["training"],
    threads: train_threads
    resources:
        gpu=train_gpus,
        mem_mb=16000,
        runtime=720,
    conda:
        "../../envs/ntpipe.yaml"
    script:
        "../scripts/train_model.py"
