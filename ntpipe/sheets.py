"""Config and sample sheets: load, fill defaults, and validate with messages
that name the file, line and column.

The JSON schemas live in ``workflow/schemas/``; Snakemake's ``validate()``
uses the same files, so the workflow and the ``ntpipe`` commands agree.
"""

import csv
import io
import os
from pathlib import Path

import jsonschema
import pandas as pd
import yaml

from .files import not_text, workdir_path

__all__ = ["SCHEMA_DIR", "with_demo_settings", "load_config", "load_training_sheet", "load_varieties_sheet", "thin_marks"]

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "workflow" / "schemas"
TRAINING_COLUMNS = ["cultivar", "mark", "genome", "vcf", "sample", "peaks", "bam", "control"]
VARIETY_COLUMNS = ["variety", "genome", "vcf", "sample"]


def _schema(name):
    with open(SCHEMA_DIR / name) as fh:
        return yaml.safe_load(fh)


def _with_defaults(validator_class):
    """A validator that fills ``default:`` values in (as Snakemake's does)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        for name, sub in properties.items():
            if isinstance(instance, dict) and "default" in sub:
                instance.setdefault(name, sub["default"] if not isinstance(sub["default"], (dict, list)) else type(sub["default"])(sub["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_DefaultingValidator = _with_defaults(jsonschema.Draft202012Validator)


def _merged(base, over):
    """``base`` updated with ``over``, nested dicts merged key by key (``over`` wins)."""
    out = dict(base)
    for key, value in over.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def with_demo_settings(config):
    """The config with ``demo.settings`` beneath it when its ``reference`` is the demo's (lies in ``demo.outdir``).

    The demo's own settings (its simulated genes as ``annotation``) thus never reach a run on another
    reference. Every key the config sets itself (its file, ``--configfile`` or ``--config``) wins over
    them. Paths are compared as written, made absolute, without following links (as the demo rule's
    outputs are named). A malformed ``demo`` or ``reference`` is left to the schema's message.
    Returns ``(config, applied)``.
    """
    demo = config.get("demo", {})
    settings, reference = (demo.get("settings") if isinstance(demo, dict) else None), config.get("reference")
    if not isinstance(settings, dict) or not settings or not isinstance(reference, str):
        return config, False
    outdir = demo.get("outdir", _schema("config.schema.yaml")["properties"]["demo"]["properties"]["outdir"]["default"])
    if not isinstance(outdir, str) or Path(os.path.abspath(outdir)) not in Path(os.path.abspath(reference)).parents:
        return config, False
    return _merged(settings, config), True


def load_config(config, path="config"):
    """Validate a config dict (or YAML file) against the schema and fill its defaults, as the workflow
    reads it (:func:`with_demo_settings` first).

    Raises
    ------
    ValueError naming the key and what was expected.
    """
    if not isinstance(config, dict):
        path = str(config)
        with open(config) as fh:
            config = yaml.safe_load(fh) or {}
    config, _ = with_demo_settings(config)
    errors = sorted(_DefaultingValidator(_schema("config.schema.yaml")).iter_errors(config), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        key = ".".join(map(str, e.path)) or "(top level)"
        raise ValueError(f"{path}: {key}: {e.message}")
    return config


def _read_sheet(path, kind, columns, required, may_be_empty=False):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{kind} sheet not found: {path}")
    # blank lines and lines starting with '#' are skipped; the rest keep their file line numbers
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(not_text(path, f"a tab-separated {kind} sheet")) from None
    numbered = [(i, line) for i, line in enumerate(text.splitlines(), start=1)
                if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise ValueError(f"{path}: the {kind} sheet is empty; expected a header row with columns {columns}")
    # a row with more fields than the header would shift its columns (pandas reads a first extra one as an index);
    # empty trailing fields, as spreadsheets export them, are dropped
    rows = [line.rstrip("\t").split("\t") for _, line in numbered]
    width = len(rows[0])
    for (i, _), fields in zip(numbered[1:], rows[1:]):
        if len(fields) > width:
            raise ValueError(f"{path}, line {i}: {len(fields)} tab-separated fields, but the header row (line "
                             f"{numbered[0][0]}) has {width}; expected one value per column (a tab inside a value?)")
    text = "".join("\t".join(fields + [""] * (width - len(fields))) + "\n" for fields in rows)
    sheet = pd.read_csv(io.StringIO(text), sep="\t", dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE)
    sheet.columns = [c.strip() for c in sheet.columns]
    missing = [c for c in required if c not in sheet.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; a {kind} sheet has columns {columns} (tab-separated,"
                         f" header row, no quotes); its header row, line {numbered[0][0]}, reads {list(sheet.columns)}")
    unknown = [c for c in sheet.columns if c not in columns]
    if unknown:
        raise ValueError(f"{path}: unknown column(s) {unknown}; expected {columns}")
    if sheet.empty and not may_be_empty:
        raise ValueError(f"{path}: the {kind} sheet has no rows")
    for col in columns:
        if col not in sheet.columns:
            sheet[col] = ""
    sheet = sheet[columns].apply(lambda s: s.str.strip()).replace('""', "")  # a spreadsheet's empty cell, quoted
    for col in FILE_COLUMNS:  # ./a/b, a//b and /workdir/a/b name the file the workflow's rules write as a/b
        if col in sheet.columns:
            sheet[col] = [workdir_path(f) if f else f for f in sheet[col]]
    sheet.index = [i for i, _ in numbered[1:]]  # file line numbers, for messages
    return sheet


def _check_rows(sheet, path, schema_name):
    validator = jsonschema.Draft202012Validator(_schema(schema_name))
    for line, row in sheet.iterrows():
        record = {k: v for k, v in row.items() if v != ""}
        for err in validator.iter_errors(record):
            col = err.path[0] if err.path else (err.message.split("'")[1] if "'" in err.message else "?")
            value = record.get(col, "")
            if err.validator == "pattern":
                raise ValueError(f"{path}, line {line}, column {col!r}: {value!r} may hold only letters, digits, '.', '_' and '-', and starts with a letter or digit")
            raise ValueError(f"{path}, line {line}, column {col!r}: {err.message}")


def _check_choice(row, path, line, who, first, second, companion):
    """Exactly one of ``first`` and ``second``; ``companion`` only beside ``second``."""
    if bool(row[first]) == bool(row[second]):
        what = "both" if row[first] else "neither"
        raise ValueError(f"{path}, line {line}: {who} has {what} of {first!r} and {second!r}; give exactly one")
    if row[companion] and not row[second]:
        raise ValueError(f"{path}, line {line}, column {companion!r}: a {companion} needs a {second!r} in the same row")


FILE_COLUMNS = ["genome", "peaks", "bam", "control", "vcf"]


def _check_files(sheet, path, buildable_dir):
    columns = [c for c in FILE_COLUMNS if c in sheet.columns]
    for line, row in sheet.iterrows():
        for col in columns:
            f = row[col]
            buildable = buildable_dir is not None and Path(buildable_dir) in Path(f).parents
            if f and not Path(f).exists() and not buildable:
                raise ValueError(f"{path}, line {line}, column {col!r}: file not found: {f}")
            if f and Path(f).is_dir():
                raise ValueError(f"{path}, line {line}, column {col!r}: {f} is a folder; expected a file")


def load_training_sheet(path, buildable_dir=None):
    """Read and validate the training sheet.

    Parameters
    ----------
    path : the TSV (columns cultivar, mark, genome | vcf [, sample], peaks | bam [, control]);
        a ``vcf`` row's peaks or BAM are on the reference's coordinates.
    buildable_dir : files under this folder may be missing: a workflow rule makes them (the demo).

    Returns
    -------
    pandas.DataFrame indexed by file line number, all columns present (empty string when unset).
    """
    sheet = _read_sheet(path, "training", TRAINING_COLUMNS, ["cultivar", "mark"])
    _check_rows(sheet, path, "training.schema.yaml")
    for line, row in sheet.iterrows():
        who = f"row {row['cultivar']}/{row['mark']}"
        _check_choice(row, path, line, who, "genome", "vcf", companion="sample")
        _check_choice(row, path, line, who, "peaks", "bam", companion="control")
    dup = sheet[sheet.duplicated(["cultivar", "mark"], keep="first")]
    if not dup.empty:
        line, row = next(dup.iterrows())
        raise ValueError(f"{path}, line {line}: cultivar {row['cultivar']!r} and mark {row['mark']!r} appear twice")
    first_line = {}  # mark, lower-cased -> (mark as first written, its line)
    for line, mark in sheet["mark"].items():
        seen, seen_line = first_line.setdefault(mark.lower(), (mark, line))
        if seen != mark:
            raise ValueError(f"{path}, line {line}: mark {mark!r} differs from {seen!r} (line {seen_line}) only in case; "
                             f"expected one spelling per mark (each spelling trains a model of its own)")
    for cultivar, rows in sheet.groupby("cultivar"):
        genomes = sorted({g or f"{v} ({s or 'its one sample'})" for g, v, s in zip(rows.genome, rows.vcf, rows["sample"])})
        if len(genomes) > 1:
            raise ValueError(f"{path}, lines {list(rows.index)}: cultivar {cultivar!r} names different genomes {genomes}")
    _check_files(sheet, path, buildable_dir)
    return sheet


def thin_marks(sheet, path, fewest=3):
    """Warnings for the marks of a training sheet that fewer than ``fewest``
    cultivars carry: each trains a model of its own, often by a misspelt mark."""
    out = []
    for mark, rows in sheet.groupby("mark", sort=False):
        if len(rows) < fewest:
            out.append(f"{path}: mark {mark!r} has labels for {len(rows)} cultivar(s) only "
                       f"({', '.join(rows.cultivar)}; line(s) {', '.join(map(str, rows.index))}), so its model learns "
                       f"from {'that genome' if len(rows) == 1 else 'those genomes'} alone; "
                       f"marks in the sheet: {sorted(sheet['mark'].unique())}")
    return out


def load_varieties_sheet(path, buildable_dir=None):
    """Read and validate the varieties sheet (variety, genome | vcf [, sample]).

    A header without rows is a run that trains the models and predicts nothing.
    Returns a DataFrame indexed by file line number; see :func:`load_training_sheet`.
    """
    sheet = _read_sheet(path, "varieties", VARIETY_COLUMNS, ["variety"], may_be_empty=True)
    _check_rows(sheet, path, "varieties.schema.yaml")
    for line, row in sheet.iterrows():
        _check_choice(row, path, line, f"variety {row['variety']!r}", "genome", "vcf", companion="sample")
    first_line = {}  # variety, lower-cased -> (variety as first written, its line)
    for line, variety in sheet["variety"].items():
        seen, seen_line = first_line.setdefault(variety.lower(), (variety, line))
        if line != seen_line:
            same = "is a duplicate of" if seen == variety else "differs only in case from"
            raise ValueError(f"{path}, line {line}: variety {variety!r} {same} {seen!r} (line {seen_line}); "
                             f"expected one row per variety (its outputs are named by it, and a case-insensitive "
                             f"file system, as macOS's, would write both into one folder)")
    _check_files(sheet, path, buildable_dir)
    return sheet
