import pytest
import yaml

from ntpipe.sheets import load_config, load_training_sheet, load_varieties_sheet, thin_marks, with_demo_settings


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ["a.fa", "b.fa", "a.K4.narrowPeak", "b.K4.narrowPeak", "a.K4.bam", "in.bam", "v.vcf.gz", "v1.fa"]:
        (tmp_path / name).write_text("x")
    return tmp_path


def _sheet(path, rows):
    path.write_text("\n".join("\t".join(r) for r in rows) + "\n")
    return path


GOOD = [
    ["cultivar", "mark", "genome", "peaks", "bam", "control"],
    ["A", "H3K4me3", "a.fa", "", "a.K4.bam", "in.bam"],
    ["B", "H3K4me3", "b.fa", "b.K4.narrowPeak", "", ""],
]


def test_a_sheet_not_saved_as_utf8_is_named(files):
    for name, encoding in (("utf16.tsv", "utf-16"), ("latin1.tsv", "latin-1")):  # Excel's "Unicode Text"; an old editor
        path = files / name
        path.write_bytes("\n".join("\t".join(r) for r in GOOD).replace("B\t", "Bé\t").encode(encoding))
        with pytest.raises(ValueError, match=rf"{name}: not UTF-8 text; expected a tab-separated training sheet .*save it as UTF-8"):
            load_training_sheet(path)


def test_good_training_sheet(files):
    sheet = load_training_sheet(_sheet(files / "t.tsv", GOOD))
    assert list(sheet.cultivar) == ["A", "B"]
    assert sheet.loc[2, "bam"] == "a.K4.bam"


def test_reference_mapped_rows_give_a_vcf_instead_of_a_genome(files):
    rows = [["cultivar", "mark", "vcf", "sample", "peaks", "bam"],
            ["A", "K4", "v.vcf.gz", "S1", "a.K4.narrowPeak", ""], ["A", "K27", "v.vcf.gz", "S1", "", "a.K4.bam"],
            ["B", "K4", "v.vcf.gz", "", "b.K4.narrowPeak", ""]]
    sheet = load_training_sheet(_sheet(files / "t.tsv", rows))
    assert list(sheet.genome) == ["", "", ""] and list(sheet["sample"]) == ["S1", "S1", ""]
    mixed = [GOOD[0] + ["vcf"], GOOD[1] + [""], ["B", "H3K4me3", "", "b.K4.narrowPeak", "", "", "v.vcf.gz"]]
    assert list(load_training_sheet(_sheet(files / "t.tsv", mixed)).vcf) == ["", "v.vcf.gz"]


def test_line_numbers_count_comments_and_blank_lines(files):
    path = files / "t.tsv"
    path.write_text("# training sheet\n\n" + "\t".join(GOOD[0]) + "\n# the A row\n" + "\t".join(GOOD[1]) + "\n\n"
                    + "\t".join(["B", "H3K4me3", "b.fa", "nope#1.bed", "", ""]) + "\n")
    with pytest.raises(ValueError, match=r"t.tsv, line 7, column 'peaks': file not found: nope#1.bed"):
        load_training_sheet(path)
    path.write_text("# nothing but a comment\n\n")
    with pytest.raises(ValueError, match="the training sheet is empty"):
        load_training_sheet(path)


def test_optional_columns_may_be_absent(files):
    sheet = load_training_sheet(_sheet(files / "t.tsv", [["cultivar", "mark", "genome", "peaks"], ["A", "K4", "a.fa", "a.K4.narrowPeak"]]))
    assert sheet.loc[2, "bam"] == ""


@pytest.mark.parametrize(
    "rows, message",
    [
        ([["cultivar", "genome", "peaks"], ["A", "a.fa", "a.K4.narrowPeak"]], r"missing column\(s\) \['mark'\]"),
        ([GOOD[0], ["A", "K4", "a.fa", "", "", ""]], r"line 2: row A/K4 has neither of 'peaks' and 'bam'"),
        ([GOOD[0] + ["vcf"], ["A", "K4", "", "a.K4.narrowPeak", "", "", ""]], r"t.tsv, line 2: row A/K4 has neither of 'genome' and 'vcf'"),
        ([GOOD[0] + ["vcf"], ["A", "K4", "a.fa", "a.K4.narrowPeak", "", "", "v.vcf.gz"]],
         r"t.tsv, line 2: row A/K4 has both of 'genome' and 'vcf'; give exactly one"),
        ([GOOD[0] + ["sample"], ["A", "K4", "a.fa", "a.K4.narrowPeak", "", "", "S1"]], r"line 2, column 'sample': a sample needs a 'vcf'"),
        ([GOOD[0] + ["vcf", "sample"], ["A", "K4", "", "a.K4.narrowPeak", "", "", "v.vcf.gz", "S1"],
          ["A", "K27", "", "b.K4.narrowPeak", "", "", "v.vcf.gz", "S2"]], r"cultivar 'A' names different genomes"),
        ([GOOD[0] + ["vcf"], ["A", "K4", "", "a.K4.narrowPeak", "", "", "gone.vcf.gz"]], r"line 2, column 'vcf': file not found: gone.vcf.gz"),
        ([GOOD[0], ["A", "K4", "a.fa", "a.K4.narrowPeak", "a.K4.bam", ""]], "has both of 'peaks' and 'bam'"),
        ([GOOD[0], ["A", "K4", "a.fa", "nope.bed", "", ""]], r"line 2, column 'peaks': file not found: nope.bed"),
        ([GOOD[0], ["A", "K4", "missing.fa", "a.K4.narrowPeak", "", ""]], r"column 'genome': file not found"),
        ([GOOD[0], ["A b", "K4", "a.fa", "a.K4.narrowPeak", "", ""]], r"line 2, column 'cultivar': 'A b' may hold only"),
        ([GOOD[0], ["A", "K4/x", "a.fa", "a.K4.narrowPeak", "", ""]], r"column 'mark': 'K4/x' may hold only"),
        ([GOOD[0], ["A", "K4", "a.fa", "a.K4.narrowPeak", "", ""], ["A", "K27", "b.fa", "b.K4.narrowPeak", "", ""]],
         r"cultivar 'A' names different genomes"),
        ([GOOD[0], ["A", "K4", "a.fa", "a.K4.narrowPeak", "", ""], ["A", "K4", "a.fa", "b.K4.narrowPeak", "", ""]],
         r"line 3: cultivar 'A' and mark 'K4' appear twice"),
        ([GOOD[0], ["A", "K4", "a.fa", "a.K4.narrowPeak", "", ""], ["B", "k4", "a.fa", "b.K4.narrowPeak", "", ""]],
         r"t.tsv, line 3: mark 'k4' differs from 'K4' \(line 2\) only in case"),
        ([GOOD[0], ["A", "K4", "a.fa", "a.K4.narrowPeak", "", "in.bam"]], "a control needs a 'bam'"),
        ([GOOD[0]], "no rows"),
        ([GOOD[0] + ["extra"], ["A", "K4", "a.fa", "a.K4.narrowPeak", "", "", "x"]], r"unknown column\(s\) \['extra'\]"),
    ],
)
def test_bad_training_sheet(files, rows, message):
    with pytest.raises(ValueError, match=message):
        load_training_sheet(_sheet(files / "t.tsv", rows))


def test_trailing_tabs_are_empty_fields(files):
    """A spreadsheet's export ends every row with a tab: the columns must not shift (pandas would read the
    first column as an index)."""
    path = files / "t.tsv"
    path.write_text("\t".join(GOOD[0]) + "\n" + "\t".join(["A", "K4", "a.fa", "a.K4.narrowPeak", "", ""]) + "\t\t\n")
    sheet = load_training_sheet(path)
    assert sheet.iloc[0][["cultivar", "mark", "genome", "peaks"]].tolist() == ["A", "K4", "a.fa", "a.K4.narrowPeak"]


def test_file_paths_are_normalised(files):
    rows = [GOOD[0], ["A", "K4", "./demo//a.fa", "demo/./a.bed", "", ""]]
    sheet = load_training_sheet(_sheet(files / "t.tsv", rows), buildable_dir="demo")
    assert (sheet.genome.tolist(), sheet.peaks.tolist(), sheet.bam.tolist()) == (["demo/a.fa"], ["demo/a.bed"], [""])
    # a path into the working directory given whole: the same file, named as the rules name it
    outside = files.parent / f"{files.name}-outside.fa"
    outside.write_text("x")
    rows = [GOOD[0], ["A", "K4", str(files / "a.fa"), str(files / "demo" / "a.bed"), "", ""], ["B", "K4", str(outside), "b.K4.narrowPeak", "", ""]]
    sheet = load_training_sheet(_sheet(files / "t.tsv", rows), buildable_dir="demo")
    assert sheet.genome.tolist() == ["a.fa", str(outside)] and sheet.peaks.tolist()[0] == "demo/a.bed"


def test_buildable_files_may_be_missing(files):
    rows = [GOOD[0], ["A", "K4", "demo/a.fa", "demo/a.bed", "", ""]]
    sheet = load_training_sheet(_sheet(files / "t.tsv", rows), buildable_dir="demo")
    assert len(sheet) == 1


def test_varieties_sheet(files):
    rows = [["variety", "genome", "vcf", "sample"], ["IRIS_313-1", "v1.fa", "", ""], ["IRIS_313-2", "", "v.vcf.gz", "S2"]]
    sheet = load_varieties_sheet(_sheet(files / "v.tsv", rows))
    assert list(sheet.variety) == ["IRIS_313-1", "IRIS_313-2"]
    # a spreadsheet's export may quote its empty cells
    rows = [["variety", "genome", "vcf", "sample"], ["IRIS_313-1", "v1.fa", '""', '""']]
    assert load_varieties_sheet(_sheet(files / "v.tsv", rows)).iloc[0].tolist() == ["IRIS_313-1", "v1.fa", "", ""]
    # a header alone: a run that trains the models and predicts no variety
    assert load_varieties_sheet(_sheet(files / "v.tsv", rows[:1])).empty
    with pytest.raises(ValueError, match="the training sheet has no rows"):
        load_training_sheet(_sheet(files / "t.tsv", GOOD[:1]))


@pytest.mark.parametrize(
    "rows, message",
    [
        ([["variety", "genome"], ["V1", "v1.fa"], ["V1", "v1.fa"]], r"line 3: variety 'V1' is a duplicate of 'V1' \(line 2\)"),
        ([["variety", "genome"], ["IR64", "v1.fa"], ["ir64", "v1.fa"]], r"line 3: variety 'ir64' differs only in case from 'IR64'"),
        ([["variety", "genome"], ["..", "v1.fa"]], r"column 'variety': '\.\.' may hold only .* starts with a letter or digit"),
        ([["variety", "genome"], ["V1", "v1.fa"], ["V2", "v1.fa", "x"]],
         r"v.tsv, line 3: 3 tab-separated fields, but the header row \(line 1\) has 2"),
        ([["variety", "genome"], ["V 1", "v1.fa"]], r"column 'variety': 'V 1' may hold only"),
        ([["variety", "genome", "vcf"], ["V1", "", ""]], "has neither of 'genome' and 'vcf'"),
        ([["variety", "genome", "vcf"], ["V1", "v1.fa", "v.vcf.gz"]], "has both"),
        ([["variety", "genome", "sample"], ["V1", "v1.fa", "S1"]], "a sample needs a 'vcf'"),
        ([["variety", "vcf"], ["V1", "gone.vcf.gz"]], "file not found: gone.vcf.gz"),
        ([["variety", "genome"], ["V1", "."]], r"v.tsv, line 2, column 'genome': \. is a folder; expected a file"),
        ([["variety", "genome"], ["V" * 101, "v1.fa"]], r"v.tsv, line 2, column 'variety': 'VVV.*' is too long"),
        ([["name", "genome"], ["V1", "v1.fa"]], "missing column"),
        ([['"variety"', '"genome"'], ['"V1"', '"v1.fa"']],  # a spreadsheet's export with quotes
         r"missing column\(s\) \['variety'\]; .* its header row, line 1, reads \['\"variety\"', '\"genome\"'\]"),
    ],
)
def test_bad_varieties_sheet(files, rows, message):
    with pytest.raises(ValueError, match=message):
        load_varieties_sheet(_sheet(files / "v.tsv", rows))


def test_config_defaults_and_errors():
    cfg = load_config({"samples": "t.tsv", "varieties": "v.tsv", "reference": "r.fa"})
    assert cfg["window"] == {"size": 1000, "stride": 100, "max_n_fraction": 0.5, "mark_sizes": {}}
    assert cfg["prediction"]["coordinates"] == "reference"
    assert cfg["model"]["preset"] == "small"
    with pytest.raises(ValueError, match="window.stride"):
        load_config({"samples": "t", "varieties": "v", "reference": "r", "window": {"stride": 0}})
    with pytest.raises(ValueError, match="'reference' is a required property"):
        load_config({"samples": "t", "varieties": "v"})
    with pytest.raises(ValueError, match="prediction.coordinates"):
        load_config({"samples": "t", "varieties": "v", "reference": "r", "prediction": {"coordinates": "nope"}})


def test_repo_config_is_valid():
    from pathlib import Path

    cfg = load_config(Path(__file__).parent.parent / "config" / "config.yaml")
    assert cfg["samples"] == "config/training.tsv"


def test_the_demo_settings_reach_only_the_demo_reference():
    from pathlib import Path

    repo = yaml.safe_load((Path(__file__).parent.parent / "config" / "config.yaml").read_text())
    demo = load_config(dict(repo))  # the demo: its reference lies in demo.outdir
    assert demo["annotation"] == "resources/demo/truth/genes.gff3"
    own = load_config({**repo, "reference": "my/nipponbare.fa", "samples": "my/t.tsv", "varieties": "my/v.tsv"})
    assert own["annotation"] is None  # the schema's default, not the demo's simulated genes
    assert own["window"] == demo["window"] and own["training"] == demo["training"]  # the file's own settings, for both
    # what the config sets itself wins over the demo's settings, nested keys one by one
    assert load_config({**repo, "annotation": None})["annotation"] is None
    settings = {"training": {"epoch_size": 10, "eval_size": 20}}
    mine = load_config({**repo, "demo": {**repo["demo"], "settings": settings}, "training": {"epoch_size": 500}})
    assert mine["training"] == {"epoch_size": 500, "eval_size": 20, "device": "auto"}


def test_the_demo_folder_is_compared_as_a_path():
    settings = {"window": {"size": 2000}}
    config = {"reference": "./resources/demo/../demo/reference.fa", "demo": {"settings": settings}}  # the default outdir
    assert with_demo_settings(config) == ({**config, "window": {"size": 2000}}, True)
    for reference in ("resources/demo-2/reference.fa", "resources/demo.fa", "elsewhere/resources/demo/reference.fa"):
        assert with_demo_settings({**config, "reference": reference}) == ({**config, "reference": reference}, False)
    config = {"reference": "/data/panel/reference.fa", "demo": {"outdir": "/data/panel/", "settings": settings}}
    assert with_demo_settings(config)[1]
    for demo, reference in (("resources/demo", 1), ("x", "resources/demo/reference.fa"), ({"settings": "x"}, "r.fa")):
        config = {"reference": reference, "demo": demo}  # malformed: left to the schema's message
        assert with_demo_settings(config) == (config, False)


def test_a_linked_reference_in_the_demo_folder_is_the_demos(tmp_path):
    (tmp_path / "elsewhere.fa").write_text(">c\nACGT\n")
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "reference.fa").symlink_to(tmp_path / "elsewhere.fa")
    config = {"reference": str(tmp_path / "demo" / "reference.fa"), "demo": {"outdir": str(tmp_path / "demo"), "settings": {"a": 1}}}
    assert with_demo_settings(config)[1]


def test_a_mark_few_cultivars_carry_is_named(files):
    rows = [GOOD[0], *[[c, "K4", "a.fa", "a.K4.narrowPeak", "", ""] for c in "ABC"], ["B", "K4me3", "a.fa", "b.K4.narrowPeak", "", ""]]
    sheet = load_training_sheet(_sheet(files / "t.tsv", rows))
    (warning,) = thin_marks(sheet, "t.tsv")
    assert warning.startswith("t.tsv: mark 'K4me3' has labels for 1 cultivar(s) only (B; line(s) 5)")
    assert "marks in the sheet: ['K4', 'K4me3']" in warning
    assert thin_marks(sheet, "t.tsv", fewest=1) == []
