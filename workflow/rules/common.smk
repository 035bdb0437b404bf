import re
from pathlib import Path

from snakemake.utils import min_version, validate

from ntpipe import checks, sheets, steps, vcfstore

min_version("9.0")


validate(config, schema="../schemas/config.schema.yaml")
try:  # model and training settings fail here, not in the training job
    steps.model_settings(config["model"], config["training"])
except ValueError as err:
    raise ValueError(f"config: {err}") from None

DEMO_DIR = Path(config["demo"]["outdir"])


samples = sheets.load_training_sheet(config["samples"], buildable_dir=DEMO_DIR)
varieties = sheets.load_varieties_sheet(config["varieties"], buildable_dir=DEMO_DIR)
validate(samples, schema="../schemas/training.schema.yaml")
validate(varieties, schema="../schemas/varieties.schema.yaml")
# FASTA, VCF, BAM and peaks files fail here, before any job (files the demo rule makes are skipped);
# once, in the process that plans the jobs, not again in each SLURM job that re-reads the workflow
if workflow.is_main_process:
    try:
        checks.check_inputs(
            config,
            samples,
            varieties,
            config["samples"],
            config["varieties"],
            buildable_dir=DEMO_DIR,
            cache=".snakemake/ntpipe/checks.json",
        )
    except ValueError as err:
        raise ValueError(f"input check: {err}") from None
varieties = varieties.set_index("variety", drop=False)
VCF_STORES = vcfstore.store_names(f for f in varieties["vcf"] if f)  # {VCF: name of its store}


def _demo_files():
    """Files the sheets and config name under the demo directory: the simulate_demo rule builds them."""
    named = [config["reference"]] + [
        f for sheet in (samples, varieties) for col in sheets.FILE_COLUMNS if col in sheet for f in sheet[col] if f
    ]
    return sorted({Path(f) for f in named if DEMO_DIR in Path(f).parents})


DEMO_FILES = _demo_files()

MARKS = sorted(samples["mark"].unique())
CULTIVARS = sorted(samples["cultivar"].unique())
VARIETIES = list(varieties.index)


def _choice(names):
    return "|".join(re.escape(n) for n in names)


wildcard_constraints:
    mark=_choice(MARKS),
    cultivar=_choice(CULTIVARS),
    variety=_choice(VARIETIES),
    vcf=_choice(VCF_STORES.values()),


def get_final_output():
    """Every variety's tracks and IGV session, every mark's model and metrics."""
    out = expand("results/models/{mark}/metrics.json", mark=MARKS)
    out += expand("results/tracks/{variety}/{mark}.bw", variety=VARIETIES, mark=MARKS)
    out += expand("results/tracks/{variety}/igv_session.xml", variety=VARIETIES)
    if is_demo():
        out.append("results/demo_evaluation.tsv")
    return out


def is_demo():
    """True when the sheets are the simulated demo's (its ground truth is known)."""
    return bool(DEMO_FILES) and DEMO_DIR in Path(config["reference"]).parents


def get_label_input(wildcards):
    rows = samples[samples["mark"] == wildcards.mark]
    files = [f for col in ("genome", "peaks", "bam", "control") for f in rows[col] if f]
    return {"files": sorted(set(files)), "encoded": list(get_encoded_genomes(wildcards).values())}


def get_encoded_genomes(wildcards):
    """The encoded genome of every cultivar of one mark, in sheet order."""
    return {c: f"results/encoded/{c}.npy" for c in samples.loc[samples["mark"] == wildcards.mark, "cultivar"]}


def get_cultivar_genome(wildcards):
    return samples.loc[samples["cultivar"] == wildcards.cultivar, "genome"].iloc[0]


def get_mark_rows(mark):
    """The training rows of one mark as plain dicts (passed to the script as params)."""
    return samples[samples["mark"] == mark].to_dict("records")


def get_variety(wildcards):
    return varieties.loc[wildcards.variety]


def is_vcf_variety(variety):
    return bool(varieties.loc[variety, "vcf"])


def get_track_genome(wildcards):
    """The FASTA a variety's tracks are on (and its windows read from)."""
    row = get_variety(wildcards)
    if not row["vcf"]:
        return row["genome"]
    if config["prediction"]["coordinates"] == "variety":
        return f"results/genomes/{wildcards.variety}.fa"
    return config["reference"]


def get_store_vcf(wildcards):
    """The VCF a variants store is extracted from."""
    return next(vcf for vcf, name in VCF_STORES.items() if name == wildcards.vcf)


def get_variants_store(wildcards):
    """A VCF variety's variants store: every sample's calls of its VCF (rule extract_variants)."""
    return f"results/variants/{VCF_STORES[get_variety(wildcards)['vcf']]}"


def get_predict_input(wildcards):
    inputs = {
        "models": expand("results/models/{mark}/model.pt", mark=MARKS),
        "genome": get_track_genome(wildcards),
    }
    if get_predict_variants(wildcards)["store"]:
        inputs["variants"] = get_variants_store(wildcards)
    return inputs


def get_predict_variants(wildcards):
    """Variants store and sample to apply on the fly (reference coordinates), else Nones."""
    row = get_variety(wildcards)
    if row["vcf"] and config["prediction"]["coordinates"] == "reference":
        return {"store": get_variants_store(wildcards), "sample": row["sample"] or None}
    return {"store": None, "sample": None}
