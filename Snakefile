# ntpipe: Nucleic Transformer histone-mark tracks for rice varieties.
# Run: snakemake --cores 8 --resources gpu=1   (see README.md)

configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/variants.smk"
include: "workflow/rules/prediction.smk"
include: "workflow/rules/effects.smk"
include: "workflow/rules/panel.smk"


# seconds of writing a small file: on a cluster they run where snakemake runs, not as a queued job per variety
localrules:
    chrom_sizes,
    igv_session,
    panel_igv_session,


rule all:
    input:
        get_final_output(),
    default_target: True


onsuccess:
    # each trained mark's held-out AUC beside the k-mer baseline's, with a warning where it does not beat it
    from ntpipe.steps import model_summary

    for line in model_summary("results/models", MARKS):
        print(line)
