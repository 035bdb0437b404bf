# Every variety: its windows (own FASTA, or reference + its VCF sample's calls
# from the variants store), one inference pass for all marks, a bigWig per
# mark, and an IGV session (with the genes, on the reference's coordinates).


rule consensus_genome:
    input:
        variants=get_variants_store,
        reference=config["reference"],
    output:
        (temp if config["prediction"]["temp_consensus"] else lambda f: f)("results/genomes/{variety}.fa"),
    log:
        "logs/consensus_genome/{variety}.log",
    benchmark:
        "results/benchmarks/consensus_genome/{variety}.tsv"
    params:
        sample=lambda wildcards: get_variety(wildcards)["sample"] or None,
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/ntpipe.yaml"
    script:
        "../scripts/consensus_genome.py"


# kept where the consensus FASTA is not (prediction.temp_consensus): the variety's session opens it as its genome
rule chrom_sizes:
    input:
        "results/genomes/{variety}.fa",
    output:
        "results/genomes/{variety}.chrom.sizes",
    log:
        "logs/chrom_sizes/{variety}.log",
    benchmark:
        "results/benchmarks/chrom_sizes/{variety}.tsv"
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../../envs/ntpipe.yaml"
    script:
        "../scripts/chrom_sizes.py"


rule predict_variety:
    input:
        unpack(get_predict_input),
    output:
        expand("results/tracks/{{variety}}/{mark}.bw", mark=MARKS),
    log:
        "logs/predict_variety/{variety}.log",
    benchmark:
        "results/benchmarks/predict_variety/{variety}.tsv"
    params:
        variants=get_predict_variants,
        marks=MARKS,
        window=PREDICTION_WINDOW,
        prediction=PREDICTION_PARAMS,
    threads: 2
    resources:
        gpu=predict_gpus,
        mem_mb=16000,
        runtime=240,
    conda:
        "../../envs/ntpipe.yaml"
    script:
        "../scripts/predict_variety.py"


rule igv_session:
    input:
        unpack(get_session_annotation),
        tracks=expand("results/tracks/{{variety}}/{mark}.bw", mark=MARKS),
        genome=get_session_genome,
    output:
        "results/tracks/{variety}/igv_session.xml",
    log:
        "logs/igv_session/{variety}.log",
    benchmark:
        "results/benchmarks/igv_session/{variety}.tsv"
    params:
        marks=MARKS,
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../../envs/ntpipe.yaml"
    script:
        "../scripts/igv_session.py"


rule annotation_track:
    input:
        gff3=lambda wildcards: config["annotation"],
        reference=config["reference"],
    output:
        gff3=ANNOTATION_TRACK,
        tbi=f"{ANNOTATION_TRACK}.tbi",
    log:
        "logs/annotation_track.log",
    benchmark:
        "results/benchmarks/annotation_track.tsv"
    params:
        chrom_aliases=config["chrom_aliases"],
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        "../../envs/ntpipe.yaml"
    script:
        "../scripts/annotation_track.py"
