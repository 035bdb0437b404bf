# The panel at once: per mark, the varieties on the reference's coordinates side
# by side at the bins where they differ (a tabix-indexed phenotype BED for
# QTLtools / tensorQTL), and an IGV session of a few of them.


rule panel_matrix:
    input:
        tracks=expand("results/tracks/{variety}/{{mark}}.bw", variety=ON_REFERENCE),
        reference=config["reference"],
    output:
        matrix="results/panel/{mark}.bed.gz",
        index="results/panel/{mark}.bed.gz.tbi",
    log:
        "logs/panel_matrix/{mark}.log",
    benchmark:
        "results/benchmarks/panel_matrix/{mark}.tsv"
    params:
        varieties=ON_REFERENCE,
        stride=config["window"]["stride"],
        min_spread=config["panel"]["min_spread"],
    resources:
        mem_mb=2000,
        runtime=240,
    conda:
        "../../envs/ntpipe.yaml"
    script:
        "../scripts/panel_matrix.py"


rule panel_igv_session:
    input:
        unpack(get_session_annotation),
        tracks=lambda wildcards: [
            f"results/tracks/{variety}/{mark}.bw" for mark in MARKS for variety in get_panel_igv_varieties()
        ],
        reference=config["reference"],
    output:
        "results/panel/igv_session.xml",
    log:
        "logs/panel_igv_session.log",
    benchmark:
        "results/benchmarks/panel_igv_session.tsv"
    params:
        varieties=lambda wildcards: get_panel_igv_varieties(),
        marks=MARKS,
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../../envs/ntpipe.yaml"
    script:
        "../scripts/panel_igv_session.py"
