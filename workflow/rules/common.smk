import os
import re
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import min_version, validate

from ntpipe import checks, sheets, simulate, steps, vcfstore
from ntpipe.device import nvidia_gpu_visible
from ntpipe.files import workdir_path

min_version("9.0")


# the demo's own settings (demo.settings) apply only to the demo's reference, beneath what the config sets
_own_mark_overrides = set(((config.get("model") or {}).get("mark_overrides") or {}))  # the marks the user names
_config, DEMO_SETTINGS = sheets.with_demo_settings(config)
config.update(_config)
validate(config, schema="../schemas/config.schema.yaml")
for key in ("reference", "annotation"):  # ./a/b, a//b and /workdir/a/b name the file the rules write as a/b (sheets: the same)
    if config.get(key):
        config[key] = workdir_path(config[key])
try:  # model, training and window settings fail here, not in a job
    steps.check_settings(config)
except ValueError as err:
    raise ValueError(f"config: {err}") from None
# a mark's own window (window.mark_sizes): kept apart, so that the rules' window params stay as they were
# for every mark without one (a params change reruns a job: an upgrade must not retrain or re-predict)
MARK_SIZES = config["window"].pop("mark_sizes")

DEMO_DIR = Path(workdir_path(config["demo"]["outdir"]))  # as the rules and the sheets name it


samples = sheets.load_training_sheet(config["samples"], buildable_dir=DEMO_DIR)
varieties = sheets.load_varieties_sheet(config["varieties"], buildable_dir=DEMO_DIR)
_unknown = sorted(set(config["model"]["mark_overrides"]) - set(samples["mark"]))
_demo_only = [m for m in _unknown if m not in _own_mark_overrides]  # demo.settings' marks: the user cannot unset them
if _demo_only:  # a mark taken out of the demo's sheet: its demo settings have nothing to apply to
    config["model"]["mark_overrides"] = {m: v for m, v in config["model"]["mark_overrides"].items() if m not in _demo_only}
    logger.info(f"demo.settings: model.mark_overrides for {', '.join(_demo_only)} left out, not a mark of the"
                f" training sheet {config['samples']}")
    _unknown = [m for m in _unknown if m not in _demo_only]
for _key, _unknown in [("model.mark_overrides", _unknown), ("window.mark_sizes", sorted(set(MARK_SIZES) - set(samples["mark"])))]:
    if _unknown:  # a misspelt mark would change nothing: say so before the (long) input checks
        raise ValueError(f"config: {_key} names {', '.join(_unknown)}: not a mark of the training sheet"
                         f" {config['samples']} (its marks: {', '.join(sorted(set(samples['mark'])))})")
validate(samples, schema="../schemas/training.schema.yaml")
validate(varieties, schema="../schemas/varieties.schema.yaml")
# FASTA, VCF, BAM and peaks files fail here, before any job (files the demo rule makes are skipped);
# once, in the process that plans the jobs, not again in each SLURM job that re-reads the workflow
if workflow.is_main_process:
    try:
        input_warnings = checks.check_inputs(
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
    for warning in input_warnings + sheets.thin_marks(samples, config["samples"]):
        logger.warning(f"Warning: {warning}")
    if DEMO_SETTINGS:
        logger.info(f"The demo's panel (reference in demo.outdir {config['demo']['outdir']}): its settings "
                    f"(demo.settings: {', '.join(config['demo']['settings'])}) apply beneath the config")
varieties = varieties.set_index("variety", drop=False)
# {VCF: name of its store}, for the varieties' VCFs and the reference-mapped cultivars'
VCF_STORES = vcfstore.store_names((f for f in [*varieties["vcf"], *samples["vcf"]] if f), stores="results/variants")


def _demo_files():
    """Files the sheets and config name under the demo directory (the simulate_demo rule writes them).

    A missing one the simulator does not write fails here: a typo must not plan a simulation.
    """
    named = [config["reference"], *([config["annotation"]] if config["annotation"] else [])] + [
        f for sheet in (samples, varieties) for col in sheets.FILE_COLUMNS if col in sheet for f in sheet[col] if f
    ]
    named = sorted({Path(f) for f in named if DEMO_DIR in Path(f).parents})
    written = set(DEMO_WRITES)
    for f in named:
        if f not in written and not f.exists():
            raise ValueError(
                f"file not found: {f} (it lies in demo.outdir {DEMO_DIR}, but the demo's simulator at "
                f"demo.scale {config['demo']['scale']} does not write it: check the path in {config['samples']}, "
                f"{config['varieties']} or the config, or demo.scale)"
            )
    return named


# every file the simulate_demo rule writes (ntpipe simulate --scale demo.scale)
DEMO_WRITES = [DEMO_DIR / f for f in simulate.panel_files(config["demo"]["scale"])]
DEMO_FILES = _demo_files()

MARKS = sorted(samples["mark"].unique())
CULTIVARS = sorted(samples["cultivar"].unique())
VARIETIES = list(varieties.index)
# only VCF varieties on the reference's coordinates share bins (panel); FASTA varieties are on their own assemblies
ON_REFERENCE = [v for v in VARIETIES if varieties.loc[v, "vcf"] and config["prediction"]["coordinates"] == "reference"]
ANNOTATION_TRACK = "results/annotation/genes.gff3.gz"
# VCF varieties whose tracks are on the reference: their variants' effects are tabulated
EFFECT_VARIETIES = ON_REFERENCE if config["effects"]["enabled"] else []
# The prediction settings that change what a track holds: the prediction rules' params, so a change reruns them.
# batch_size, cache and device change how it is made (device: float32 on a CPU, bf16 on a GPU, the same model), so
# the jobs read them from the config and a change of them re-predicts nothing (on the 3K panel, 3,000 GPU jobs).
PREDICTION_PARAMS = {"reverse_complement": config["prediction"]["reverse_complement"]}


def mark_window(mark):
    """The window settings of one mark's labels and model: ``window`` with its ``mark_sizes`` entry as ``size``."""
    return {**config["window"], "size": MARK_SIZES.get(mark, config["window"]["size"])}  # the keys in their order


# The window settings of the jobs that predict every mark: ``window`` as it is where no mark has a size of its
# own (their params unchanged), else with ``size`` by mark (ntpipe.predict.load_models takes either).
PREDICTION_WINDOW = (
    {**config["window"], "size": {m: mark_window(m)["size"] for m in MARKS}} if MARK_SIZES else config["window"]
)


def _runs_on_this_cpu(device):
    """True where a local run's jobs of this ``device`` setting run on this machine's CPU (cpu, or auto and no
    NVIDIA GPU here).

    A cluster executor's jobs, and the jobs it spawns, keep the GPU layout: its profile sets their resources.
    Called as jobs are built (train_gpus, train_threads, predict_gpus): the executor is not known yet while the
    Snakefile is read.
    """
    device = str(device).strip().lower()
    if not (workflow.is_main_process and workflow.local_exec) or device.startswith("cuda"):
        return False
    return device.split(":")[0] == "cpu" or not nvidia_gpu_visible()


def _trains_on_this_cpu():
    """True where a local run trains on this machine's CPU (training.device cpu, or auto and no NVIDIA GPU here)."""
    return _runs_on_this_cpu(config["training"]["device"])


def _cores():
    try:
        return workflow.cores
    except WorkflowError:  # a dry run without --cores
        return 1


# On a GPU the marks train one at a time (gpu=1 against --resources gpu=1), 2 threads each for the loader.
# On the CPU they train side by side (no gpu resource), sharing --cores at 1-2 threads each: a second
# thread speeds the small model's steps little and its loader not at all; make demo's two marks train in
# 5 min instead of 9 on 2 cores (benchmarks/cpu_training.md).
def train_gpus(wildcards):
    return 0 if _trains_on_this_cpu() else 1


def train_threads(wildcards):
    return max(1, min(2, _cores() // len(MARKS))) if _trains_on_this_cpu() else 2


# The prediction jobs (predict_variety, predict_reference, variant_effects, evaluate_demo) likewise: on a GPU one
# at a time against --resources gpu=1; on a machine without one they hold no GPU and run side by side within
# --cores (each its rule's threads), instead of one variety at a time on 2 of the machine's cores.
def predict_gpus(wildcards):
    return 0 if _runs_on_this_cpu(config["prediction"]["device"]) else 1


def _choice(names):
    return "|".join(re.escape(n) for n in names)


wildcard_constraints:
    mark=_choice(MARKS),
    cultivar=_choice(CULTIVARS),
    variety=_choice(VARIETIES),
    vcf=_choice(VCF_STORES.values()),


def get_final_output():
    """Every variety's tracks and IGV session, every mark's model and metrics (the models alone where the
    varieties sheet has no rows)."""
    out = expand("results/models/{mark}/metrics.json", mark=MARKS)
    out += expand("results/tracks/{variety}/{mark}.bw", variety=VARIETIES, mark=MARKS)
    out += expand("results/tracks/{variety}/igv_session.xml", variety=VARIETIES)
    out += expand("results/effects/{variety}.tsv", variety=EFFECT_VARIETIES)
    if is_panel():
        out += expand("results/panel/{mark}.bed.gz", mark=MARKS) + ["results/panel/igv_session.xml"]
    if is_demo() and VARIETIES:  # the demo's truth is for its varieties' tracks
        out.append("results/demo_evaluation.tsv")
    return out


def is_demo():
    """True when the sheets are the simulated demo's (its ground truth is known)."""
    return bool(DEMO_FILES) and DEMO_DIR in Path(config["reference"]).parents


def is_panel():
    """True when the panel files are wanted and at least two varieties share the reference's bins."""
    return config["panel"]["enabled"] and len(ON_REFERENCE) >= 2


def get_panel_igv_varieties():
    """The varieties of the panel's IGV session (``panel.igv_varieties``)."""
    chosen = config["panel"]["igv_varieties"]
    if isinstance(chosen, int):
        return ON_REFERENCE[:chosen]
    for name in chosen:
        if name not in ON_REFERENCE:
            raise ValueError(
                f"config panel.igv_varieties: {name!r} is not a VCF variety on the reference's coordinates;"
                f" expected some of {ON_REFERENCE[:8]}{' ...' if len(ON_REFERENCE) > 8 else ''}"
            )
    return list(chosen)


def get_session_annotation(wildcards):
    """The indexed genes for a session on the reference's coordinates, when ``annotation`` is set."""
    variety = getattr(wildcards, "variety", None)
    if not config["annotation"] or (variety is not None and variety not in ON_REFERENCE):
        return {}
    return {"annotation": ANNOTATION_TRACK, "annotation_index": f"{ANNOTATION_TRACK}.tbi"}


def get_label_input(wildcards):
    rows = get_mark_rows(wildcards.mark)
    files = [r[col] for r in rows for col in ("genome", "vcf", "peaks", "bam", "control") if r[col]]
    if any(r["vcf"] for r in rows):
        files.append(config["reference"])
    return {"files": sorted(set(files)), "encoded": list(get_encoded_genomes(wildcards).values())}


def encoded_genome(cultivar, size):
    """A cultivar's genome encoded for windows of ``size`` bp: ``results/encoded/`` for the config's
    ``window.size``, a folder of its own for a mark's (``window.mark_sizes``)."""
    folder = "results/encoded" if size == config["window"]["size"] else f"results/encoded/{size}bp"
    return f"{folder}/{cultivar}.npy"


def get_encoded_genomes(wildcards):
    """The encoded genome of every cultivar of one mark, in sheet order, for the mark's window."""
    size = mark_window(wildcards.mark)["size"]
    return {c: encoded_genome(c, size) for c in samples.loc[samples["mark"] == wildcards.mark, "cultivar"]}


def cultivar_genome(cultivar):
    """The FASTA holding a cultivar's sequence: its own, or for a vcf row the consensus made from the reference."""
    row = samples[samples["cultivar"] == cultivar].iloc[0]
    return row["genome"] or f"results/genomes/cultivars/{cultivar}.fa"


def get_cultivar_genome(wildcards):
    return cultivar_genome(wildcards.cultivar)


def get_cultivar_vcf(wildcards):
    """Variants store and sample of a cultivar given as a VCF against the reference."""
    row = samples[samples["cultivar"] == wildcards.cultivar].iloc[0]
    return {"store": store_path(row["vcf"]), "sample": row["sample"] or None}


def get_mark_rows(mark):
    """The training rows of one mark as plain dicts (passed to the script as params), each with its genome."""
    rows = samples[samples["mark"] == mark].to_dict("records")
    return [{**r, "genome": cultivar_genome(r["cultivar"])} for r in rows]


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


def get_session_genome(wildcards):
    """The genome a variety's IGV session opens: its tracks' FASTA, or, where that is a consensus deleted once
    its tracks are written (prediction.temp_consensus), its chromosome sizes (IGV shows no sequence then)."""
    genome = get_track_genome(wildcards)
    if config["prediction"]["temp_consensus"] and genome == f"results/genomes/{wildcards.variety}.fa":
        return f"results/genomes/{wildcards.variety}.chrom.sizes"
    return genome


def store_path(vcf):
    """The variants store of a VCF (rule extract_variants)."""
    return f"results/variants/{VCF_STORES[vcf]}"


def get_store_vcf(wildcards):
    """The VCF a variants store is extracted from."""
    return next(vcf for vcf, name in VCF_STORES.items() if name == wildcards.vcf)


def get_variants_store(wildcards):
    """A VCF variety's variants store: every sample's calls of its VCF (rule extract_variants)."""
    row = get_variety(wildcards)
    if not row["vcf"]:
        raise ValueError(f"results/genomes/{wildcards.variety}.fa: consensus genomes are for VCF varieties;"
                         f" {wildcards.variety!r} is a FASTA variety ({row['genome']})")
    return store_path(row["vcf"])


def get_effects_input(wildcards):
    """A VCF variety's tracks, the reference's tracks, the models, its variants store and the annotation (if any)."""
    if wildcards.variety not in EFFECT_VARIETIES:
        raise ValueError(
            f"results/effects/{wildcards.variety}.tsv: effects tables are for VCF varieties with tracks on the"
            " reference's coordinates (prediction.coordinates: reference) and effects.enabled: true"
        )
    inputs = {
        "tracks": expand("results/tracks/{variety}/{mark}.bw", variety=wildcards.variety, mark=MARKS),
        "reference_tracks": expand("results/reference/{mark}.bw", mark=MARKS),
        "models": expand("results/models/{mark}/model.pt", mark=MARKS),
        "variants": get_variants_store(wildcards),
        "reference": config["reference"],
    }
    if config.get("annotation"):
        inputs["annotation"] = config["annotation"]
    return inputs


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
