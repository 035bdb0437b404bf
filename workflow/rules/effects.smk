# Which of a VCF variety's variants change a mark: the reference's own tracks
# (predicted once, through the window cache) against each variety's, and the
# variants in the windows that move scored alone by the models (ntpipe.effects).


rule predict_reference:
    input:
        models=expand("results/models/{mark}/model.pt", mark=MARKS),
        genome=config["reference"],
    output:
        expand("results/reference/{mark}.bw", mark=MARKS),
    log:
        "logs/predict_reference.log",
    benchmark:
        "results/benchmarks/predict_reference.tsv"
    params:
        variants={"store": None, "sample": None},  # the reference as it is
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


rule variant_effects:
    input:
        unpack(get_effects_input),
    output:
        "results/effects/{variety}.tsv",
    log:
        "logs/variant_effects/{variety}.log",
    benchmark:
        "results/benchmarks/variant_effects/{variety}.tsv"
    params:
        marks=MARKS,
        sample=lambda wildcards: get_variety(wildcards)["sample"] or None,
        window=PREDICTION_WINDOW,
        min_delta=config["effects"]["min_delta"],
        chrom_aliases=config["chrom_aliases"],
        prediction=PREDICTION_PARAMS,
    threads: 2
    resources:
        gpu=predict_gpus,
        mem_mb=16000,
        runtime=120,
    conda:
        "../../envs/ntpipe.yaml"
    script:
        "../scripts/variant_effects.py"
