"""One function per Snakemake rule that is more than a single call.

The scripts in ``workflow/scripts`` are thin adapters around these.
"""

import json
import logging
import shutil
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from .chroms import listed
from .files import atomic_path
from .metrics import below_floor, format_auc

log = logging.getLogger(__name__)

__all__ = ["check_settings", "mark_model", "model_settings", "train_mark", "transfer_note", "model_summary", "evaluate_demo", "write_json"]


def write_json(path, obj):
    """Write JSON atomically (temporary name, then rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def _write_table(path, table):
    """A metrics table as TSV, 4 decimals, written atomically."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4f")


def model_settings(model, training, window=None, key="window.size"):
    """(preset, ModelConfig, TrainConfig) from the config's ``model`` and ``training`` sections.

    Raises ValueError naming an unknown, mistyped or out-of-range field, or a
    ``window`` (bp; the config's ``key``) the model cannot read, so that the
    workflow can check them before any job starts.
    """
    from .config import check_together, model_config, train_config

    preset = model.get("preset", "small")
    model_cfg = model_config(preset, **model.get("overrides", {}))
    train_cfg = train_config(preset, **{k: v for k, v in training.items() if k != "device"})
    check_together(model_cfg, train_cfg)
    if window is not None and window > model_cfg.max_len:
        raise ValueError(f"{key} {window} is longer than the model reads: its max_len is {model_cfg.max_len} bp "
                         f"(model.overrides.max_len raises it)")
    return preset, model_cfg, train_cfg


def mark_model(model, mark):
    """The config's ``model`` section for one mark: its ``mark_overrides`` over the ``overrides``
    (the section itself, less ``mark_overrides``, for a mark without any)."""
    own = dict(model.get("mark_overrides", {}).get(mark, {}))
    section = {k: v for k, v in model.items() if k != "mark_overrides"}
    if own:
        section["overrides"] = {**model.get("overrides", {}), **own}
    return section


def check_settings(config):
    """Check what the config's schema cannot alone, before any job starts: the model and training
    settings (:func:`model_settings`) and the window's geometry. Raises ValueError naming the key."""
    size, stride = config["window"]["size"], config["window"]["stride"]
    mark_sizes = config["window"].get("mark_sizes", {})
    for key, length in [("window.size", size)] + [(f"window.mark_sizes.{m}", n) for m, n in mark_sizes.items()]:
        if stride > length:
            raise ValueError(f"window.stride {stride} is longer than {key} {length}: each bin's value comes from "
                             f"the window centred on it, so the window must hold the bin")
    read_span, control_span = config["labels"]["read_span"], config["labels"]["control_span"]
    if read_span < stride:
        raise ValueError(f"labels.read_span {read_span} is shorter than the bin (window.stride {stride} bp): "
                         f"a bin's reads would go uncounted")
    if control_span < read_span:
        raise ValueError(f"labels.control_span {control_span} is shorter than labels.read_span {read_span}: "
                         f"the control's wide span (MACS2's local lambda) must hold the read span")
    model_settings(config["model"], config["training"], size)
    overrides = config["model"].get("mark_overrides", {})
    for mark in dict.fromkeys([*overrides, *mark_sizes]):
        key = f"window.mark_sizes.{mark}" if mark in mark_sizes else "window.size"
        try:
            model_settings(mark_model(config["model"], mark), config["training"], mark_sizes.get(mark, size), key)
        except ValueError as err:
            raise ValueError(f"model.mark_overrides.{mark}: {err}" if mark in overrides else str(err)) from None


def train_mark(labels_path, out_dir, mark, window, split, model, training, chrom_aliases=False):
    """Train one mark's models on its labelled windows (:mod:`ntpipe.trainset`).

    1. The hold-out run (``out_dir/holdout/``): trains on every chromosome but
       the split's, stops early on the validation chromosomes, and gives the
       honest figures: ``metrics.json`` (test chromosomes), ``history.tsv``,
       ``curves.png``, ``roc_pr.png``; ``out_dir/baseline.json`` scores a 4-mer
       logistic regression on the same split.
    2. The final fit (``out_dir/final/``, unless ``training.final_fit`` is
       false): the same settings on every chromosome, no early stopping, for
       the hold-out run's best epoch count (at least ``min_final_epochs``).
       Varieties share almost every locus with the cultivars, so the model
       behind the tracks should have seen them all.

    ``out_dir/model.pt`` is the final model (or the hold-out model without a
    final fit); ``out_dir/metrics.json`` always holds the hold-out model's
    test metrics. Returns them. With ``chrom_aliases`` the split's chromosomes
    are those of any naming (:func:`~ntpipe.trainset.split_by_chrom`).
    """
    from dataclasses import replace

    from .data import WindowDataset
    from .trainset import eval_subset, load_labels, split_by_chrom
    from .train import fit

    data = load_labels(labels_path)
    if data["size"] != window["size"] or data["stride"] != window["stride"]:
        raise ValueError(f"{labels_path}: labels were built for window {data['size']}/{data['stride']}, config says {window['size']}/{window['stride']}")
    preset, model_cfg, train_cfg = model_settings(model, training)
    parts = split_by_chrom(data, split["valid_chroms"], split["test_chroms"], aliases=chrom_aliases)
    differential = parts["test"][parts["test"]["differential"] > 0]
    parts["valid"] = eval_subset(parts["valid"], train_cfg.eval_size, train_cfg.seed)
    parts["test"] = eval_subset(parts["test"], train_cfg.eval_size, train_cfg.seed + 1)

    def dataset(examples):
        return WindowDataset(data["genomes"], examples, data["offsets"], data["size"], data["stride"])

    sets = {name: dataset(ex) for name, ex in parts.items()}
    for name, ex in parts.items():
        log.info("%s %s: %d examples (%d with the mark, %d with target >= 0.5)", mark, name, len(ex),
                 int((ex["target"] > 0).sum()), int((ex["target"] >= 0.5).sum()))
    out_dir = Path(out_dir)
    meta = {"mark": mark, "window": int(window["size"]), "stride": int(window["stride"]), "preset": preset}
    device = training.get("device", "auto")
    metrics = fit(sets["train"], sets["valid"], model_cfg, train_cfg, out_dir / "holdout", test=sets["test"],
                  meta={**meta, "trained_on": "hold-out split", "split": split}, device=device)
    metrics.update(_differential_metrics(out_dir / "holdout" / "model.pt", dataset(differential), train_cfg, device))
    write_json(out_dir / "metrics.json", metrics)
    baseline = _baseline(sets["train"], sets["test"], train_cfg)
    write_json(out_dir / "baseline.json", baseline)
    note, fine = transfer_note(mark, metrics.get("auc"), baseline.get("auc"))
    (log.info if fine else log.warning)(note)

    if train_cfg.final_fit:
        epochs = max(int(metrics["best_epoch"]), train_cfg.min_final_epochs)
        log.info("%s: final fit on every chromosome for %d epochs (hold-out best epoch %d)", mark, epochs, metrics["best_epoch"])
        final_meta = {**meta, "trained_on": "all chromosomes", "holdout_metrics": metrics}
        fit(dataset(data["examples"]), None, model_cfg, replace(train_cfg, epochs=epochs), out_dir / "final",
            meta=final_meta, device=device)
        source = out_dir / "final" / "model.pt"
    else:
        source = out_dir / "holdout" / "model.pt"
    with atomic_path(out_dir / "model.pt") as tmp:
        shutil.copyfile(source, tmp)
    return metrics


def transfer_note(mark, auc, baseline_auc):
    """``(line, fine)``: a mark's hold-out test AUC beside the 4-mer logistic
    regression's on the same split; ``fine`` is False where the model does not
    beat it (:func:`~ntpipe.metrics.below_floor`), the line then a warning saying what that means."""
    if auc is None or auc != auc:  # None, or NaN
        return (f"{mark}: no held-out test AUC: the test chromosomes hold windows of one class only; "
                f"name chromosomes with and without the mark in split.test_chroms"), False
    line = f"{mark}: held-out test AUC {format_auc(auc)}, 4-mer logistic regression {format_auc(baseline_auc)}"
    if not below_floor(auc, baseline_auc):
        return line, True
    return (f"{line}: the model does not beat k-mer counts on the test chromosomes, so its tracks may show what it "
            f"recalls of the cultivars' loci more than what it reads in a new sequence (README, 'Demo results')"), False


def model_summary(models_dir, marks):
    """Lines for the end of a run: :func:`transfer_note` of every mark trained in ``models_dir``
    (a heading first; none when no mark has been trained)."""
    lines = []
    for mark in marks:
        folder = Path(models_dir) / mark
        if not (folder / "metrics.json").exists():
            continue
        try:
            metrics = json.loads((folder / "metrics.json").read_text())
            baseline = json.loads((folder / "baseline.json").read_text()) if (folder / "baseline.json").exists() else {}
        except (OSError, ValueError) as err:  # a summary never fails a finished run
            lines.append(f"WARNING {mark}: cannot read its metrics in {folder}: {err}")
            continue
        if not isinstance(metrics, dict) or "auc" not in metrics or not isinstance(baseline, dict):
            lines.append(f"WARNING {mark}: {folder / 'metrics.json'} holds no test AUC (another version's file?)")
            continue
        line, fine = transfer_note(mark, metrics.get("auc"), baseline.get("auc"))
        lines.append(line if fine else f"WARNING {line}")
    heading = f"ntpipe: the models' held-out figures ({Path(models_dir) / '<mark>' / 'metrics.json'}):"
    return [heading, *lines] if lines else []


def _differential_metrics(model_path, differential, train_cfg, device):
    """AUC of the hold-out model on the test chromosomes' differential windows
    (:mod:`ntpipe.trainset`: a locus marked in some cultivars, not in others):
    does it read the sequence differences that switch the mark? None without both classes."""
    from .device import resolve_device
    from .model import load_model

    device = resolve_device(device)
    model, _, _ = load_model(model_path, device)
    return {"differential_auc": model_auc(model, differential, train_cfg.eval_batch_size, device),
            "n_differential": len(differential)}


def model_auc(model, dataset, batch_size, device):
    """AUC of ``model`` on a :class:`~ntpipe.data.WindowDataset` (a target of at
    least 0.5 is the mark); None unless both classes are there."""
    import torch

    from .data import make_loader
    from .train import evaluate

    y = dataset.labels >= 0.5
    if not 0 < y.sum() < len(y):
        return None
    with torch.no_grad():
        return float(evaluate(model, make_loader(dataset, batch_size), torch.device(device))[0]["auc"])


def _baseline(train, test, train_cfg, max_train=50_000):
    """The 4-mer logistic regression on the hold-out split: trained on one epoch's draw of the
    training examples (at most ``max_train``), binary targets (>= 0.5), scored on the test set."""
    import torch

    from .baseline import kmer_logistic
    from .data import EpochSampler

    sampler = EpochSampler(train.labels, train_cfg.negative_ratio, torch.Generator().manual_seed(train_cfg.seed),
                           epoch_size=min(max_train, train_cfg.epoch_size or max_train))
    idx = np.fromiter(sampler, dtype=np.int64)
    all_test = np.arange(len(test))
    return kmer_logistic((train.tokens(idx), None, train.labels[idx] >= 0.5),
                         (test.tokens(all_test), None, test.labels >= 0.5), k=4)


def _bin_truth(bed, chrom, length, stride):
    """1 where the truth covers at least half of a bin."""
    from .encoding import window_bounds
    from .intervals import covered_before, merge_intervals

    iv = bed[bed.chrom == chrom]
    starts, ends = merge_intervals(iv.start.to_numpy(), iv.end.to_numpy())
    lo, hi = window_bounds(length, stride, stride)
    cov = covered_before(hi, starts, ends) - covered_before(lo, starts, ends)
    return (cov >= 0.5 * (hi - lo)).astype(np.uint8)


def _read_bed(path):
    return pd.read_csv(path, sep="\t", header=None, usecols=[0, 1, 2], names=["chrom", "start", "end"], dtype={"chrom": str})


def evaluate_demo(varieties, marks, truth_dir, events, tracks_dir, stride, out, effects=None):
    """Bin-level metrics of every demo variety's tracks against the simulator's truth.

    For VCF varieties (tracks on the reference) the truth lifted to the
    reference (``NAME.MARK.ref.bed``) is used. Also scores every planted
    motif-changing variant: the mean track over the affected interval in the
    variety that carries it, against the mean of the other varieties, written
    next to ``out`` as ``demo_events.tsv``. With ``effects`` (a dict of
    ``reference``, ``reference_tracks`` dir, ``size``, ``models`` paths and
    optionally ``prediction`` settings and ``cache`` dir), ranks the planted
    variants among all of each VCF variety's variants by ``|delta|``
    (``demo_effects.tsv``, :func:`_score_effects`). Varieties the simulator
    made no truth for (added to the sheet by hand) are left out, with a note.
    """
    from .bigwig import open_bigwig, read_bins
    from .metrics import binary_metrics

    def truth_bed(v, mark):
        return Path(truth_dir) / f"{v['variety']}.{mark}{'.ref' if v.get('vcf') else ''}.bed"

    unknown = [v["variety"] for v in varieties if not all(truth_bed(v, m).exists() for m in marks)]
    if unknown:
        log.info("not scored, no simulated truth in %s (not the demo's own varieties): %s", truth_dir, listed(unknown))
    varieties = [v for v in varieties if v["variety"] not in unknown]
    rows, tracks = [], {}
    for v in varieties:
        name = v["variety"]
        for mark in marks:
            bw_path = Path(tracks_dir) / name / f"{mark}.bw"
            truth = _read_bed(truth_bed(v, mark))
            with open_bigwig(bw_path) as bw:
                sizes = bw.chroms()
            y, p = [], []
            for chrom, length in sizes.items():
                values = read_bins(bw_path, chrom, stride)
                tracks[(name, mark, chrom)] = values
                called = ~np.isnan(values)
                y.append(_bin_truth(truth, chrom, length, stride)[called])
                p.append(values[called])
            m = binary_metrics(np.concatenate(y), np.concatenate(p))
            rows.append({"variety": name, "mark": mark, "coordinates": "reference" if v.get("vcf") else "own", **m})
    # its columns also where no variety was scored: a header, not an empty file
    table = pd.DataFrame(rows, columns=["variety", "mark", "coordinates", "auc", "auprc", "acc", "mcc", "sens", "spec",
                                        "n_pos", "n_neg"])
    out = Path(out)
    _write_table(out, table)
    if events and Path(events).exists():
        events = pd.read_csv(events, sep="\t", dtype={"chrom": str})
        _score_events(events, varieties, tracks, stride, out.with_name("demo_events.tsv"))
        if effects:
            _score_effects(events, varieties, marks, tracks_dir, stride, out.with_name("demo_effects.tsv"), **effects)
    return table


def _score_effects(events, varieties, marks, tracks_dir, stride, out, reference, reference_tracks, size, models,
                   prediction=None, cache=None):
    """Every VCF variety's effects table at ``min_delta`` 0 (every variant scored alone, as in the
    effects tables), scored by :func:`planted_auc` into ``out``."""
    tables = effects_tables(varieties, marks, tracks_dir, stride, reference, reference_tracks, size, models, prediction, cache)
    _write_table(out, planted_auc(events, tables, marks))


def effects_tables(varieties, marks, tracks_dir, stride, reference, reference_tracks, size, models, prediction=None,
                   cache=None):
    """``{variety: effects table}`` of every VCF variety (``varieties``: sheet records) at ``min_delta`` 0
    (``size``: the window in bp, or bp by mark)."""
    from .effects import effects_by_window
    from .genome import open_fasta
    from .variants import read_variants

    fasta = open_fasta(reference)
    ref_tracks = {m: str(Path(reference_tracks) / f"{m}.bw") for m in marks}
    tables = {}
    with single_variant_predictor(models, marks, size, prediction or {}, cache) as predictors:
        for v in varieties:
            if v.get("vcf"):
                variants = read_variants(v["vcf"], v.get("sample") or None, fasta)
                var_tracks = {m: str(Path(tracks_dir) / v["variety"] / f"{m}.bw") for m in marks}
                tables[v["variety"]] = effects_by_window(variants, fasta, predictors, ref_tracks, var_tracks, stride)
    return tables


def planted_auc(events, tables, marks):
    """AUC of ``|delta|`` for the planted variants against the other variants, per mark.

    Positives: the variants the simulator planted that change this mark in the
    variety carrying them (``events.tsv``). Negatives: every other variant the
    variety carries, except planted ones (they may change the other mark).
    Pooled over the varieties of ``tables`` (``{variety: effects table}``).
    Also split by whether training cultivars carry the planted variant too
    (``seen``: its effect is in the labels) or none does (``private``: only
    the grammar can tell it).
    """
    scored = []
    for name, table in tables.items():
        mine = events[events.variety == name]
        planted_any = set(zip(mine.chrom, mine.ref_pos + 1))
        for mark in marks:
            of_mark = mine[mine.mark == mark]
            n_carriers = of_mark["cultivars"].tolist() if "cultivars" in of_mark else [-1] * len(of_mark)  # -1: not known
            carriers = dict(zip(zip(of_mark.chrom, of_mark.ref_pos + 1), n_carriers))
            rows = table[table.mark == mark]
            key = list(zip(rows.chrom, rows.pos))
            label = np.array([k in carriers for k in key], dtype=bool)
            other = np.array([k not in planted_any for k in key], dtype=bool)
            keep = label | other
            scored.append(pd.DataFrame({"mark": mark, "planted": label[keep], "abs_delta": rows["delta"].abs().to_numpy()[keep],
                                        "cultivars": np.array([carriers.get(k, -1) for k in key], dtype=int)[keep]}))
    columns = ["mark", "planted", "other", "auc_abs_delta", "median_planted", "median_other", "seen", "auc_seen",
               "private", "auc_private"]
    if not scored:  # no variety of the simulator's (a sheet of one's own on the demo's reference): nothing to rank
        return pd.DataFrame(columns=columns)
    rows = []
    for mark, group in pd.concat(scored).groupby("mark", sort=True):
        y, score, cultivars = group["planted"].to_numpy(), group["abs_delta"].to_numpy(), group["cultivars"].to_numpy()
        row = {"mark": mark, "planted": int(y.sum()), "other": int((~y).sum()), "auc_abs_delta": _auc(y, score, ~y | y),
               "median_planted": float(np.median(score[y])) if y.any() else np.nan,
               "median_other": float(np.median(score[~y])) if (~y).any() else np.nan}
        for name, kind in (("seen", y & (cultivars > 0)), ("private", y & (cultivars == 0))):
            row[name], row[f"auc_{name}"] = int(kind.sum()), _auc(y, score, ~y | kind)
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def _auc(y, score, keep):
    """ROC AUC of ``score`` for ``y`` over the rows ``keep``; NaN without both classes."""
    from sklearn.metrics import roc_auc_score

    y, score = y[keep], score[keep]
    return float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else np.nan


def _score_events(events, varieties, tracks, stride, out):
    on_reference = [v["variety"] for v in varieties if v.get("vcf")]
    rows = []
    for ev in events.itertuples():
        if ev.variety not in on_reference:
            continue
        lo, hi = ev.ref_start // stride, -(-ev.ref_end // stride)
        mean = {v: float(np.nanmean(tracks[(v, ev.mark, ev.chrom)][lo:hi])) for v in on_reference if (v, ev.mark, ev.chrom) in tracks}
        carriers = set(events.variety[(events.chrom == ev.chrom) & (events.ref_pos == ev.ref_pos) & (events.mark == ev.mark)])
        others = [m for v, m in mean.items() if v not in carriers and not np.isnan(m)]
        rows.append({"variety": ev.variety, "mark": ev.mark, "chrom": ev.chrom, "ref_start": ev.ref_start, "ref_end": ev.ref_end,
                     "effect": ev.effect, "carrier_mean": mean.get(ev.variety, np.nan),
                     "others_mean": float(np.mean(others)) if others else np.nan})
    _write_table(out, pd.DataFrame(rows, columns=["variety", "mark", "chrom", "ref_start", "ref_end", "effect",
                                                  "carrier_mean", "others_mean"]))  # a header also without a row


def variety_effects(store, sample, reference, tracks, reference_tracks, models, marks, size, stride, out,
                    min_delta=0.1, annotation=None, chrom_aliases=False, prediction=None, cache=None):
    """Write ``results/effects/{variety}.tsv`` for one VCF variety (:mod:`ntpipe.effects`).

    ``store`` is its VCF's variants store (:mod:`ntpipe.vcfstore`); ``tracks``
    and ``reference_tracks`` are bigWig paths named ``{mark}.bw``; ``size`` the
    window in bp, or bp by mark; ``models`` the marks' model.pt files, run on
    each variant alone with the
    ``prediction`` settings (``batch_size``, ``device``,
    ``reverse_complement``: the config's) through the window ``cache``
    directory (or None); ``annotation`` an optional GFF3 on the reference's
    coordinates (``chrom_aliases``: in another naming).
    """
    import time

    from .effects import effects_by_window, write_effects
    from .genome import chrom_sizes, open_fasta
    from .vcfstore import load_variants

    t0 = time.perf_counter()
    fasta = open_fasta(reference)
    sizes = dict(chrom_sizes(fasta))
    by_mark = lambda paths: {Path(p).name.removesuffix(".bw"): str(p) for p in paths}  # noqa: E731
    var_tracks, ref_tracks = by_mark(tracks), by_mark(reference_tracks)
    missing = sorted(set(marks) - set(var_tracks) | set(marks) - set(ref_tracks))
    if missing:
        raise ValueError(f"no track for mark(s) {', '.join(missing)} among {sorted(var_tracks)} and {sorted(ref_tracks)}")
    variants = load_variants(store, sample, fasta)
    genes = None
    if annotation:
        from .annotation import read_genes

        genes = read_genes(annotation, chrom_names=sizes, aliases=chrom_aliases)
    t1 = time.perf_counter()
    with single_variant_predictor(models, marks, size, prediction or {}, cache) as predictors:
        table = effects_by_window(variants, fasta, predictors, ref_tracks, var_tracks, stride, min_delta=min_delta,
                                  genes=genes)
    write_effects(table, out)
    n = sum(len(v) for v in variants.values())
    log.info("%s: %d variants x %d marks -> %d rows with |delta| >= %g; variants read in %.1f s, effects in %.1f s",
             out, n, len(marks), len(table), min_delta, t1 - t0, time.perf_counter() - t1)
    return table


@contextmanager
def single_variant_predictor(models, marks, size, prediction, cache=None):
    """``{window: (marks, predict)}``: the marks whose models read windows of that size (sorted), and
    ``predict(padded, starts)``, their models on such windows through the window cache.

    ``models`` are model.pt paths, ``size`` the window in bp or bp by mark,
    ``prediction`` the config's prediction settings (``batch_size``,
    ``device``, ``reverse_complement``); logs the windows predicted and their
    rate when done.
    """
    from functools import partial

    from .cache import WindowCache
    from .device import resolve_device
    from .infer import Throughput, predict_windows
    from .predict import by_window, load_models

    device = resolve_device(prediction.get("device", "auto"))
    names, nets, windows, _ = load_models(models, device, window=size)
    if sorted(names) != sorted(marks):
        raise ValueError(f"models are for marks {names}, expected {sorted(marks)}")
    with ExitStack() as stack:
        bar = Throughput(None, "variants alone")
        stack.callback(bar.close)

        def predictor(window, group):
            group_nets, group_marks = [nets[i] for i in group], [names[i] for i in group]
            run = (stack.enter_context(WindowCache(cache, group_nets, group_marks)).predict if cache
                   else partial(predict_windows, group_nets))
            return group_marks, lambda padded, starts: run(padded, starts, window, prediction.get("batch_size"), device,
                                                           prediction.get("reverse_complement", False), bar)

        yield {window: predictor(window, sorted(group, key=names.__getitem__))  # each window's marks sorted
               for window, group in by_window(windows).items()}
