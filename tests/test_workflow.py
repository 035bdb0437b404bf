"""The Snakemake workflow: lint, dry runs, and one end-to-end run at test scale."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig
import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parent.parent
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(*args, cwd=REPO, check=True):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def test_lint_is_clean():
    proc = snakemake("--lint", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr


def test_dry_run_plans_the_demo():
    out = snakemake("-n", "--forceall", "--cores", "2").stdout
    for rule in ["simulate_demo", "cultivar_genome", "encode_genome", "build_labels", "train_model", "predict_variety", "igv_session", "evaluate_demo"]:
        assert rule in out


def _train_jobs(out):
    """(threads, gpu) of each train_model job in a dry run's output."""
    jobs = []
    for block in out.split("rule train_model:")[1:]:
        block = block.split("\n\n")[0]
        threads = int(block.split("threads: ")[1].split()[0]) if "threads: " in block else 1  # 1 is not printed
        jobs.append((threads, int(block.split("gpu=")[1].split(",")[0])))
    return jobs


@pytest.mark.parametrize("device, cores, expected", [
    ("auto", 2, (1, 0)),  # no GPU here: the demo's two marks train side by side, a core each
    ("cpu", 4, (2, 0)),
    ("cuda", 2, (2, 1)),  # one GPU job at a time against --resources gpu=1
    ("cpu:0", 2, (1, 0)),
])
def test_marks_train_side_by_side_on_the_cpu_and_one_at_a_time_on_a_gpu(tmp_path, monkeypatch, device, cores, expected):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # "auto" finds no GPU, even on a GPU machine
    extra = tmp_path / "device.yaml"
    extra.write_text(f"training:\n  device: {device}\n")
    out = snakemake("-n", "--forceall", "--cores", str(cores), "--configfile", "config/config.yaml", str(extra)).stdout
    assert _train_jobs(out) == [expected, expected]


def test_a_cluster_run_asks_a_gpu_for_training_from_a_login_node_without_one(tmp_path, monkeypatch):
    # the jobs of a cluster executor run elsewhere: they keep gpu=1 and 2 threads (the profile may set more).
    # The stub executor fails each job with what it was given; train_model's inputs are present, so it is the job.
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # a login node without a GPU
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO / "tests" / "stub_executor"), os.environ.get("PYTHONPATH", "")]))
    shutil.copytree(REPO / "config", tmp_path / "config")
    (tmp_path / "results" / "labels").mkdir(parents=True)
    (tmp_path / "results" / "labels" / "H3K4me3.npz").touch()
    (tmp_path / "results" / "encoded").mkdir()
    for i in range(1, 21):
        (tmp_path / "results" / "encoded" / f"CV{i:02d}.npy").touch()
    proc = snakemake("-s", str(REPO / "Snakefile"), "results/models/H3K4me3/model.pt", "--executor", "stubremote",
                     "--workflow-profile", "none", "--jobs", "1", "--allowed-rules", "train_model", cwd=tmp_path, check=False)
    assert "stub: train_model threads=2 gpu=1" in proc.stdout + proc.stderr, proc.stderr[-3000:]


def test_plain_snakemake_uses_the_workstation_profile(tmp_path):
    # from the repository root, as the README's command runs, and from another working directory (-s)
    shutil.copytree(REPO / "config", tmp_path / "config")
    for cwd, args in ((REPO, ()), (tmp_path, ("-s", str(REPO / "Snakefile")))):
        proc = snakemake("-n", "--forceall", "--cores", "1", *args, cwd=cwd)
        assert "Using workflow specific profile" in proc.stderr and "profiles/default" in proc.stderr
        assert "ntpipe simulate --out" in proc.stdout  # printshellcmds: true, set only by the profile
    proc = snakemake("-n", "--forceall", "--cores", "1", "--workflow-profile", "none")
    assert "Using workflow specific profile" not in proc.stderr and "ntpipe simulate --out" not in proc.stdout


@pytest.mark.parametrize("text, expected", [
    ("model:\n  preset: small\n  overrides:\n    n_heads: two\n", "ModelConfig.n_heads must be an integer, got 'two'"),
    ("model:\n  preset: small\n  overrides:\n    d_model: 30\n", "ModelConfig.d_model must be a multiple of n_heads (4), got 30"),
    ("window:\n  size: 5000\n", "window.size 5000 is longer than the model reads: its max_len is 4096 bp"),
    ("training:\n  device: gpu\n", "'gpu' does not match"),
    ("window:\n  size: 1000\n  stride: 2000\n", "window.stride 2000 is longer than window.size 1000"),
    ("labels:\n  read_span: 50\n", "labels.read_span 50 is shorter than the bin (window.stride 100 bp)"),
    ("labels:\n  control_span: 400\n", "labels.control_span 400 is shorter than labels.read_span 500"),
    ("model:\n  mark_overrides:\n    H3K4me3: {word_gates: 1}\n", "model.mark_overrides.H3K4me3: ModelConfig.word_gates"),
    ("model:\n  mark_overrides:\n    H3K9me2: {pool: 8}\n", "model.mark_overrides names H3K9me2: not a mark of the training sheet"),
    ("window:\n  mark_sizes:\n    H3K27me3: 50\n", "window.stride 100 is longer than window.mark_sizes.H3K27me3 50"),
    ("window:\n  mark_sizes:\n    H3K27me3: 5000\n", "window.mark_sizes.H3K27me3 5000 is longer than the model reads"),
    ("window:\n  mark_sizes:\n    H3K9me2: 4000\n", "window.mark_sizes names H3K9me2: not a mark of the training sheet"),
])
def test_bad_model_settings_fail_before_any_job(tmp_path, text, expected):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    proc = snakemake("-n", "--configfile", "config/config.yaml", str(bad), check=False)
    assert proc.returncode != 0
    assert expected in proc.stdout + proc.stderr
    assert "simulate_demo" not in proc.stdout  # no job planned


def test_a_run_on_another_reference_gets_none_of_the_demos_settings(test_panel, tmp_path):
    # the README's command on your own data: the demo's settings (its simulated genes, H3K27me3's word gates)
    # stay the demo's, so a sheet without H3K27me3 runs
    from ntpipe.sheets import with_demo_settings

    shipped = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    demo_marks = {"H3K27me3": {"word_gates": True, "kmer_words": 8}}
    assert with_demo_settings(shipped)[0]["model"]["mark_overrides"] == demo_marks
    assert "mark_overrides" not in with_demo_settings({**shipped, "reference": str(test_panel / "reference.fa")})[0]["model"]
    sheet = pd.read_csv(test_panel / "training.tsv", sep="\t")
    sheet[sheet["mark"] == "H3K4me3"].to_csv(tmp_path / "k4.tsv", sep="\t", index=False)
    demo = snakemake("-n", "--forceall", "--cores", "1")
    assert "The demo's panel (reference in demo.outdir resources/demo)" in demo.stdout + demo.stderr
    assert "rule annotation_track:" in demo.stdout
    unset = snakemake("-n", "--forceall", "--cores", "1", "--config", "annotation=")  # what the command line sets wins
    assert "rule train_model:" in unset.stdout and "annotation_track" not in unset.stdout
    own = snakemake("-n", "--forceall", "--cores", "1", "--config", f"samples={tmp_path / 'k4.tsv'}",
                    f"varieties={test_panel / 'varieties.tsv'}", f"reference={test_panel / 'reference.fa'}",
                    "split={valid_chroms: [Chr9], test_chroms: [Chr10]}")
    out = own.stdout + own.stderr
    assert "The demo's panel" not in out and "rule train_model:" in out
    assert "annotation_track" not in out and "simulate_demo" not in out and "resources/demo" not in out


def test_paths_with_dot_slash_plan_like_the_plain_ones(tmp_path):
    # in a directory without the demo's files, so that the demo rule must make them
    shutil.copytree(REPO / "config", tmp_path / "config")
    for name in ("training.tsv", "varieties.tsv"):
        sheet = tmp_path / "config" / name
        sheet.write_text(sheet.read_text().replace("resources/demo/", "./resources/demo/"))
    proc = snakemake("-n", "--cores", "1", "-s", str(REPO / "Snakefile"), "--config",
                     "reference=./resources/demo/reference.fa", cwd=tmp_path)
    assert "simulate_demo" in proc.stdout and "evaluate_demo" in proc.stdout
    # every path given whole, as the simulator writes the sheets for an outdir given whole: the same jobs
    for name in ("training.tsv", "varieties.tsv"):
        sheet = tmp_path / "config" / name
        sheet.write_text(sheet.read_text().replace("./resources/demo/", f"{tmp_path}/resources/demo/"))
    whole = snakemake("-n", "--cores", "1", "-s", str(REPO / "Snakefile"), "--config",
                      f"reference={tmp_path / 'resources' / 'demo' / 'reference.fa'}",
                      f"demo={{outdir: {tmp_path / 'resources' / 'demo'}}}", cwd=tmp_path)
    assert whole.stdout.splitlines()[-12:] == proc.stdout.splitlines()[-12:]  # the demo's jobs included


def test_a_mistyped_path_under_the_demo_folder_fails_before_any_job(tmp_path):
    sheet = (REPO / "config" / "varieties.tsv").read_text().replace("IRIS_313-10001.fa", "nothere.fa", 1)
    (tmp_path / "v.tsv").write_text(sheet)
    proc = snakemake("-n", "--config", f"varieties={tmp_path / 'v.tsv'}", check=False)
    assert proc.returncode != 0
    assert ("file not found: resources/demo/varieties/nothere.fa (it lies in demo.outdir resources/demo, but the demo's "
            "simulator at demo.scale demo does not write it") in proc.stdout + proc.stderr
    assert "simulate_demo" not in proc.stdout


def test_a_varieties_sheet_without_rows_plans_the_models_alone(tmp_path):
    (tmp_path / "v.tsv").write_text("variety\tgenome\tvcf\tsample\n")
    out = snakemake("-n", "--forceall", "--cores", "1", "--config", f"varieties={tmp_path / 'v.tsv'}").stdout
    assert "rule train_model:" in out
    assert "predict_variety" not in out and "evaluate_demo" not in out and "panel_matrix" not in out


def test_a_mark_one_cultivar_carries_is_warned_of(tmp_path):
    sheet = (REPO / "config" / "training.tsv").read_text().replace("\tH3K4me3\t", "\tH3K4me3x\t", 1)
    (tmp_path / "t.tsv").write_text(sheet)
    proc = snakemake("-n", "--cores", "1", "--config", f"samples={tmp_path / 't.tsv'}")
    assert f"Warning: {tmp_path / 't.tsv'}: mark 'H3K4me3x' has labels for 1 cultivar(s) only (CV01; line(s) 2)" in proc.stdout + proc.stderr
    assert "H3K4me3x" not in (REPO / "config" / "training.tsv").read_text()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, test_panel):
    """A working directory whose config points at the test-scale panel."""
    work = tmp_path_factory.mktemp("work")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(
        samples=str(test_panel / "training.tsv"),
        varieties=str(test_panel / "varieties.tsv"),
        reference=str(test_panel / "reference.fa"),
        split={"valid_chroms": ["Chr9"], "test_chroms": ["Chr10"]},
        training={"epochs": 2, "epoch_size": 80, "eval_size": 80},
        demo={"outdir": str(work / "no-demo")},
        annotation=str(test_panel / "truth" / "genes.gff3"),
        panel={"min_spread": 0.01},  # two epochs of training: the varieties' tracks differ little
        effects={"enabled": True, "min_delta": 0.001},  # and so do their variants' effects
    )
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    return work


def run(workdir, *targets, check=True):
    # --resources takes every word after it: keep it last
    return snakemake(*targets, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--configfile",
                     str(workdir / "config.yaml"), "--cores", "2", "--resources", "gpu=1", check=check)


@pytest.fixture(scope="module")
def finished(workdir, test_panel):
    proc = run(workdir)
    (workdir / "first_run.out").write_text(proc.stdout + proc.stderr)
    return workdir


@pytest.mark.slow
def test_end_to_end_writes_every_track_and_session(finished, test_panel):
    varieties = pd.read_csv(test_panel / "varieties.tsv", sep="\t", dtype=str, keep_default_na=False)
    marks = sorted(pd.read_csv(test_panel / "training.tsv", sep="\t").mark.unique())
    reference = [line.split("\t")[0] for line in (test_panel / "reference.fa.fai").read_text().splitlines()]
    for row in varieties.itertuples():
        for mark in marks:
            with pyBigWig.open(str(finished / "results" / "tracks" / row.variety / f"{mark}.bw")) as bw:
                if row.vcf:  # VCF varieties are on the reference's coordinates, in .fai order
                    assert list(bw.chroms()) == reference
                values = np.concatenate([np.array([v for _, _, v in bw.intervals(c) or []]) for c in bw.chroms()])
                assert len(values) > 0 and np.all((values >= 0) & (values <= 1))
        assert (finished / "results" / "tracks" / row.variety / "igv_session.xml").exists()
    for mark in marks:
        metrics = yaml.safe_load((finished / "results" / "models" / mark / "metrics.json").read_text())
        assert {"auc", "auprc", "acc", "mcc", "sens", "spec", "n_pos", "n_neg"} <= set(metrics)
        assert (finished / "results" / "models" / mark / "holdout" / "curves.png").stat().st_size > 0
        final = torch.load(finished / "results" / "models" / mark / "model.pt", weights_only=True)["meta"]
        assert final["trained_on"] == "all chromosomes" and final["holdout_metrics"]["auc"] == metrics["auc"]
    assert (finished / "logs" / "predict_variety").is_dir()
    # reference-mapped cultivars (vcf rows) were trained on, from their consensus genomes (kept, as the encoded ones)
    training = pd.read_csv(test_panel / "training.tsv", sep="\t", dtype=str, keep_default_na=False)
    for row in training[training.vcf != ""].itertuples():
        assert f"{row.cultivar}: labelled" in (finished / "logs" / "build_labels" / f"{row.mark}.log").read_text()
        assert (finished / "logs" / "cultivar_genome" / f"{row.cultivar}.log").exists()
        assert (finished / "results" / "genomes" / "cultivars" / f"{row.cultivar}.fa").exists()
        assert (finished / "results" / "encoded" / f"{row.cultivar}.npy").exists()


@pytest.mark.slow
def test_a_run_ends_with_each_marks_held_out_auc_beside_the_kmer_baseline(finished, test_panel):
    out = (finished / "first_run.out").read_text()
    assert "the models' held-out figures" in out, out[-3000:]
    for mark in sorted(pd.read_csv(test_panel / "training.tsv", sep="\t").mark.unique()):
        auc = json.loads((finished / "results" / "models" / mark / "metrics.json").read_text())["auc"]
        assert auc is not None, f"{mark}: the test-scale split left its test chromosome one class"
        assert f"{mark}: held-out test AUC {auc:.3f}, 4-mer logistic regression " in out, out[-3000:]
    assert "held-out figures" not in run(finished, "-n", "--forcerun", "all").stdout  # not after a dry run


@pytest.mark.slow
def test_effects_tables_score_each_variant_alone(finished, test_panel):
    from ntpipe.bigwig import read_bins
    from ntpipe.effects import COLUMNS
    from ntpipe.genome import encode_chrom, open_fasta
    from ntpipe.infer import predict_windows
    from ntpipe.model import load_model
    from ntpipe.variants import Variants, variety_windows

    from ntpipe.sheets import load_config

    config = load_config(finished / "config.yaml")  # with the schema's defaults, as the workflow read it
    size, stride = config["window"]["size"], config["window"]["stride"]
    varieties = pd.read_csv(test_panel / "varieties.tsv", sep="\t", dtype=str, keep_default_na=False)
    vcf_varieties = varieties[varieties.vcf != ""].variety.tolist()
    assert vcf_varieties and not (finished / "results" / "effects" / f"{varieties.variety[varieties.vcf == ''].iloc[0]}.tsv").exists()
    fasta = open_fasta(test_panel / "reference.fa")
    models, rows = {}, 0
    for variety in vcf_varieties:
        table = pd.read_csv(finished / "results" / "effects" / f"{variety}.tsv", sep="\t", keep_default_na=False)
        assert list(table.columns) == COLUMNS
        rows += len(table)
        strength = table["delta"].abs().to_numpy()
        assert np.all(strength >= 0.001) and np.all(np.diff(strength) <= 0)
        for row in table.head(10).itertuples():  # the model on the reference with this variant alone
            if row.mark not in models:
                models[row.mark] = load_model(finished / "results" / "models" / row.mark / "model.pt")[0]
            tokens = encode_chrom(fasta, row.chrom)
            padded, starts = variety_windows(tokens, Variants([row.pos - 1], [row.ref], [row.alt]), size, stride)
            lo = max((row.pos - 1 - size + (size - stride) // 2) // stride + 1, 0)  # bins whose window holds the variant
            hi = min((row.pos - 1 + len(row.ref) - 1 + (size - stride) // 2) // stride, len(starts) - 1)
            bins = np.arange(lo, hi + 1)
            ref = read_bins(finished / "results" / "reference" / f"{row.mark}.bw", row.chrom, stride)[bins]
            var = read_bins(finished / "results" / "tracks" / variety / f"{row.mark}.bw", row.chrom, stride)[bins]
            deltas = predict_windows([models[row.mark]], padded, starts[bins], size)[0] - ref
            best = np.nanargmax(np.abs(deltas))
            assert row.delta == pytest.approx(deltas[best], abs=1e-4)
            assert row.ref_prob == pytest.approx(ref[best], abs=1e-4)
            assert row.haplotype_delta == pytest.approx(var[best] - ref[best], abs=1e-4)
    assert rows, "no variant of any variety changes a mark by min_delta"


@pytest.mark.slow
def test_panel_matrix_and_genes_in_the_sessions(finished, test_panel):
    import xml.etree.ElementTree as ET

    import pysam

    from ntpipe.bigwig import read_bins

    varieties = pd.read_csv(test_panel / "varieties.tsv", sep="\t", dtype=str, keep_default_na=False)
    on_reference = varieties.variety[varieties.vcf != ""].tolist()
    config = yaml.safe_load((finished / "config.yaml").read_text())
    stride, min_spread = config["window"]["stride"], config["panel"]["min_spread"]
    sizes = [line.split("\t")[:2] for line in (test_panel / "reference.fa.fai").read_text().splitlines()]
    for mark in sorted(pd.read_csv(test_panel / "training.tsv", sep="\t").mark.unique()):
        path = finished / "results" / "panel" / f"{mark}.bed.gz"
        matrix = pd.read_csv(path, sep="\t")
        assert list(matrix.columns[6:]) == on_reference
        for chrom, length in sizes:  # exactly the bins where the varieties' tracks differ by min_spread
            values = np.array([read_bins(finished / "results" / "tracks" / v / f"{mark}.bw", chrom, stride)
                               for v in on_reference])
            frame = pd.DataFrame(values.T.astype(float))
            keep = np.flatnonzero(((frame.max(axis=1) - frame.min(axis=1)) >= min_spread).to_numpy())
            rows = matrix[matrix["#chr"] == chrom]
            assert rows["start"].tolist() == (keep * stride).tolist()
            assert rows["end"].tolist() == np.minimum((keep + 1) * stride, int(length)).tolist()
            np.testing.assert_allclose(rows[on_reference].to_numpy(), values[:, keep].T, rtol=1e-3, atol=1e-4)
        assert len(matrix) > 0, f"no bins differ by {min_spread} in {mark}"
        row = matrix.iloc[len(matrix) // 2]
        with pysam.TabixFile(str(path)) as tbx:
            assert len(list(tbx.fetch(row["#chr"], row["start"], row["end"]))) == 1
    for variety, vcf in zip(varieties.variety, varieties.vcf):
        session = ET.parse(finished / "results" / "tracks" / variety / "igv_session.xml").getroot()
        genes = session.find("Resources/Resource[@name='genes']")
        assert (genes is not None) == bool(vcf)  # a FASTA variety's tracks are on its own assembly
    panel = ET.parse(finished / "results" / "panel" / "igv_session.xml").getroot()
    assert panel.find("Resources/Resource[@name='genes']").get("path") == "../annotation/genes.gff3.gz"
    names = [t.get("name") for t in panel.findall("Panel[@name='DataPanel']/Track")]
    assert {n.split(" ")[0] for n in names} == set(on_reference[:8])


@pytest.mark.slow
def test_one_variety_rerun_touches_nothing_else(finished, test_panel):
    varieties = pd.read_csv(test_panel / "varieties.tsv", sep="\t", dtype=str, keep_default_na=False).variety.tolist()
    target, others = varieties[0], varieties[1:]
    before = {p: p.stat().st_mtime_ns for v in others for p in (finished / "results" / "tracks" / v).iterdir()}
    before |= {p: p.stat().st_mtime_ns for p in (finished / "results" / "models").glob("*/model.pt")}
    shutil.rmtree(finished / "results" / "tracks" / target)
    run(finished, f"results/tracks/{target}/igv_session.xml")
    assert (finished / "results" / "tracks" / target / "igv_session.xml").exists()
    assert {p: p.stat().st_mtime_ns for p in before} == before


@pytest.mark.slow
def test_how_tracks_are_made_reruns_nothing_what_they_hold_does(finished, tmp_path):
    def planned(settings):
        (tmp_path / "more.yaml").write_text(yaml.safe_dump({"prediction": settings}))
        proc = snakemake("-n", "-s", str(REPO / "Snakefile"), "--directory", str(finished), "--configfile",
                         str(finished / "config.yaml"), str(tmp_path / "more.yaml"), "--cores", "2", "--resources", "gpu=1")
        return proc.stdout

    assert "Nothing to be done" in planned({"batch_size": 16, "cache": False, "device": "cpu"})
    assert "predict_variety" in planned({"reverse_complement": True})  # averages in the other strand: new values


@pytest.mark.slow
def test_a_marks_own_model_settings_change_that_marks_params_alone(finished, tmp_path):
    """model.mark_overrides reach one mark's training alone: the other mark is not retrained (the genomes both
    read, a reference-mapped cultivar's consensus among them, are kept, not written again)."""
    (tmp_path / "more.yaml").write_text(yaml.safe_dump({"model": {"mark_overrides": {"H3K27me3": {"dropout": 0.2}}}}))
    out = snakemake("-n", "-s", str(REPO / "Snakefile"), "--directory", str(finished), "--configfile",
                    str(finished / "config.yaml"), str(tmp_path / "more.yaml"), "--cores", "2", "--resources", "gpu=1").stdout
    reasons = {block.split("wildcards: mark=")[1].split()[0]: block.split("reason:")[1].split("\n")[0]
               for block in out.split("rule train_model:")[1:]}
    assert "Params have changed" in reasons["H3K27me3"] and "'dropout': 0.2" in reasons["H3K27me3"]
    assert "H3K4me3" not in reasons
    assert "rule encode_genome:" not in out and "rule cultivar_genome:" not in out


@pytest.mark.slow
def test_a_mark_with_a_window_of_its_own_retrains_alone_and_predicts_on_it(finished, tmp_path):
    """window.mark_sizes: one mark's labels, model and tracks on a wider window around the same bins; the other
    mark is not retrained and its tracks keep their values."""
    work = tmp_path / "work"
    shutil.copytree(finished, work, symlinks=True)
    (work / "wide.yaml").write_text(yaml.safe_dump({"window": {"mark_sizes": {"H3K27me3": 3000}}}))
    args = ("-s", str(REPO / "Snakefile"), "--directory", str(work), "--configfile", str(work / "config.yaml"),
            str(work / "wide.yaml"), "--cores", "2")
    planned = snakemake("-n", *args).stdout
    trained = [block.split("wildcards: mark=")[1].split()[0] for block in planned.split("rule train_model:")[1:]]
    assert trained == ["H3K27me3"] and "rule encode_genome_sized:" in planned and "rule encode_genome:" not in planned
    before = {p.relative_to(work): p.read_bytes() for p in (work / "results" / "tracks").glob("*/H3K4me3.bw")}
    snakemake(*args, "--resources", "gpu=1")
    meta = torch.load(work / "results" / "models" / "H3K27me3" / "model.pt", weights_only=True)["meta"]
    assert meta["window"] == 3000 and len(list((work / "results" / "encoded" / "3000bp").glob("*.npy"))) > 0
    for path, data in before.items():  # re-predicted (the job writes every mark), the same model's values
        with pyBigWig.open(str(work / path)) as new, pyBigWig.open(str(finished / path)) as old:
            assert all(new.intervals(c) == old.intervals(c) for c in old.chroms())
        with pyBigWig.open(str(work / path.with_name("H3K27me3.bw"))) as k27:  # the same 100 bp bins
            for chrom, length in k27.chroms().items():
                assert all(s % 100 == 0 and e == min(s + 100, length) for s, e, _ in k27.intervals(chrom) or [])
    effects = pd.concat(pd.read_csv(p, sep="\t") for p in (work / "results" / "effects").glob("*.tsv"))
    assert set(effects["mark"]) == {"H3K4me3", "H3K27me3"}
    assert "Nothing to be done" in snakemake("-n", *args).stdout


@pytest.mark.slow
def test_the_demo_evaluation_leaves_out_a_variety_without_truth(finished, test_panel, caplog):
    from ntpipe.steps import evaluate_demo

    sheet = pd.read_csv(test_panel / "varieties.tsv", sep="\t", dtype=str, keep_default_na=False)
    marks = sorted(pd.read_csv(test_panel / "training.tsv", sep="\t").mark.unique())
    records = sheet.to_dict("records")
    shutil.copytree(finished / "results" / "tracks" / records[0]["variety"], finished / "results" / "tracks" / "ADDED_1")
    args = (marks, test_panel / "truth", test_panel / "events.tsv", finished / "results" / "tracks", 100)
    (finished / "eval").mkdir()
    alone = evaluate_demo(records, *args, finished / "eval" / "alone.tsv")
    with caplog.at_level("INFO", logger="ntpipe.steps"):
        added = evaluate_demo(records + [{**records[0], "variety": "ADDED_1"}], *args, finished / "eval" / "added.tsv")
    pd.testing.assert_frame_equal(added, alone)  # a variety added to the sheet by hand: not scored, not failed
    assert "not scored, no simulated truth" in caplog.text and "ADDED_1" in caplog.text
    assert (finished / "eval" / "demo_events.tsv").exists()
    shutil.rmtree(finished / "results" / "tracks" / "ADDED_1")


@pytest.mark.slow
def test_adding_a_variety_predicts_only_the_new_one(finished, test_panel, tmp_path):
    sheet = pd.read_csv(test_panel / "varieties.tsv", sep="\t", dtype=str, keep_default_na=False)
    extra = sheet.iloc[[0]].copy()
    extra["variety"] = "NEW_variety-1"
    bigger = tmp_path / "varieties.tsv"
    pd.concat([sheet, extra]).to_csv(bigger, sep="\t", index=False)
    proc = run(finished, "-n", "--config", f"varieties={bigger}")
    planned = [line.split("=", 1)[1].strip() for line in proc.stdout.splitlines() if line.strip().startswith("wildcards:")]
    # a FASTA variety (the first row): its own jobs only; the panel matrices hold the VCF varieties alone
    assert extra.iloc[0]["genome"] and not extra.iloc[0]["vcf"]
    assert planned and all("NEW_variety-1" in w for w in planned), planned


@pytest.mark.slow
def test_a_temporary_consensus_leaves_a_session_that_opens(finished, test_panel, tmp_path):
    """With prediction.temp_consensus a VCF variety's consensus FASTA (its tracks' genome, with coordinates:
    variety) is deleted once used: its session opens the chromosome sizes kept beside it, not the FASTA."""
    import xml.etree.ElementTree as ET

    sheet = pd.read_csv(test_panel / "varieties.tsv", sep="\t", dtype=str, keep_default_na=False)
    extra = sheet[sheet.vcf != ""].iloc[[0]].copy()
    extra["variety"] = "OWN_coords-1"
    bigger = tmp_path / "varieties.tsv"
    pd.concat([sheet, extra]).to_csv(bigger, sep="\t", index=False)
    (tmp_path / "more.yaml").write_text(yaml.safe_dump({"prediction": {"coordinates": "variety", "temp_consensus": True}}))
    target = "results/tracks/OWN_coords-1/igv_session.xml"
    snakemake(target, "-s", str(REPO / "Snakefile"), "--directory", str(finished), "--configfile", str(finished / "config.yaml"),
              str(tmp_path / "more.yaml"), "--config", f"varieties={bigger}", "--cores", "2", "--resources", "gpu=1")
    assert not (finished / "results" / "genomes" / "OWN_coords-1.fa").exists()  # temporary: gone
    session_path = finished / target
    session = ET.parse(session_path).getroot()
    assert session.get("genome") == "../../genomes/OWN_coords-1.chrom.sizes" and session.get("hasSequenceTrack") == "false"
    sizes = [line.split("\t") for line in (session_path.parent / session.get("genome")).read_text().splitlines()]
    for resource in session.findall("Resources/Resource"):
        with pyBigWig.open(str(session_path.parent / resource.get("path"))) as bw:
            assert [(c, str(n)) for c, n in bw.chroms().items()] == [tuple(row) for row in sizes]
    assert session.get("locus") == sizes[0][0]


def test_the_demo_without_one_of_its_marks_runs(tmp_path):
    """A mark taken out of the demo's training sheet: the demo's own per-mark settings (demo.settings'
    model.mark_overrides for H3K27me3, which the user never set and cannot unset from --config or
    --configfile) are left out for it, with a note, instead of stopping the run as if the user had
    misspelt a mark; a mark the user names is still checked (test_bad_model_settings_fail_before_any_job)."""
    sheet = pd.read_csv(REPO / "config" / "training.tsv", sep="\t", dtype=str, keep_default_na=False)
    sheet[sheet["mark"] == "H3K4me3"].to_csv(tmp_path / "k4.tsv", sep="\t", index=False)
    proc = snakemake("-n", "--forceall", "--cores", "1", "--config", f"samples={tmp_path / 'k4.tsv'}", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "rule train_model:" in out and "mark=H3K27me3" not in out
    assert "demo.settings: model.mark_overrides for H3K27me3 left out" in out  # the note says what was left out


def _gpu_of(out, rule):
    """The gpu resource of each job of ``rule`` in a dry run's output."""
    return [int(block.split("\n\n")[0].split("gpu=")[1].split(",")[0]) if "gpu=" in block.split("\n\n")[0] else 0
            for block in out.split(f"rule {rule}:")[1:]]


@pytest.mark.parametrize("device, expected", [("auto", 0), ("cpu", 0), ("cuda", 1)])
def test_prediction_jobs_hold_the_gpu_only_where_they_use_one(tmp_path, monkeypatch, device, expected):
    """On a machine without a GPU the prediction and effects jobs run on the CPU: against the workstation
    profile's --resources gpu=1 they must not ask for the one GPU, or a 32-core server predicts one variety
    at a time on 2 threads (as training, test_marks_train_side_by_side_on_the_cpu_and_one_at_a_time_on_a_gpu)."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # "auto" finds no GPU, even on a GPU machine
    extra = tmp_path / "device.yaml"
    extra.write_text(f"prediction:\n  device: {device}\n")
    out = snakemake("-n", "--forceall", "--cores", "8", "--configfile", "config/config.yaml", str(extra)).stdout
    for rule in ("predict_variety", "predict_reference", "variant_effects"):
        gpus = _gpu_of(out, rule)
        assert gpus and set(gpus) == {expected}, (rule, gpus)
