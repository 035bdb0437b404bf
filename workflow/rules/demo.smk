# The simulated demo panel, built when the sheets name files under demo.outdir
# that are missing, and the demo's own check against its ground truth.


rule simulate_demo:
    output:
        [f for f in DEMO_WRITES if f != DEMO_DIR / "training.tsv"],
        sheet=DEMO_DIR / "training.tsv",
    log:
        "logs/simulate_demo.log",
    benchmark:
        "results/benchmarks/simulate_demo.tsv"
    params:
        outdir=lambda wildcards, output: Path(output.sheet).parent,
        seed=config["demo"]["seed"],
        scale=config["demo"]["scale"],
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/ntpipe.yaml"
    shell:
        "ntpipe simulate --out {params.outdir:q} --seed {params.seed} --scale {params.scale} 2> {log:q}"


rule evaluate_demo:
    input:
        tracks=expand("results/tracks/{variety}/{mark}.bw", variety=VARIETIES, mark=MARKS),
        models=expand("results/models/{mark}/{file}", mark=MARKS, file=["metrics.json", "model.pt"]),
        reference_tracks=expand("results/reference/{mark}.bw", mark=MARKS) if EFFECT_VARIETIES else [],
        # after the effects tables: the windows of their variants in moved windows are cached by then
        effects=expand("results/effects/{variety}.tsv", variety=EFFECT_VARIETIES),
    output:
        "results/demo_evaluation.tsv",
        *(["results/demo_effects.tsv"] if EFFECT_VARIETIES else []),
        events="results/demo_events.tsv",
    log:
        "logs/evaluate_demo.log",
    benchmark:
        "results/benchmarks/evaluate_demo.tsv"
    params:
        truth=str(DEMO_DIR / "truth"),
        events=str(DEMO_DIR / "events.tsv"),
        varieties=lambda wildcards: varieties.to_dict("records"),
        marks=MARKS,
        stride=config["window"]["stride"],
        effects=lambda wildcards: (
            {
                "reference": config["reference"],
                "reference_tracks": "results/reference",
                "size": PREDICTION_WINDOW["size"],
                "models": expand("results/models/{mark}/model.pt", mark=MARKS),
                "prediction": PREDICTION_PARAMS,  # the job adds batch_size, device and cache
            }
            if EFFECT_VARIETIES
            else None
        ),
    threads: 2
    resources:
        gpu=predict_gpus,
        mem_mb=16000,
        runtime=60,
    conda:
        "../../envs/ntpipe.yaml"
    script:
        "../scripts/evaluate_demo.py"
