"""Atomic writes: the target appears whole or not at all."""

import pytest

from ntpipe.files import atomic_path, header_line


def test_atomic_path_renames_when_complete(tmp_path):
    target = tmp_path / "a.tsv"
    with atomic_path(target, suffix=".bam") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith("a.tsv.") and tmp.name.endswith(".tmp.bam")
        tmp.write_text("x\n")
        assert not target.exists()
    assert target.read_text() == "x\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.tsv"]


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "a.tsv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old\n"  # the previous file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["a.tsv"]


def test_header_line_numbers_the_first_line_with_any_prefix():
    text = "##fileformat=VCFv4.2\n##contig=<ID=Chr2>\n##contig=<ID=Chr1,length=9>\n#CHROM"
    assert header_line(text, "##contig=<ID=Chr1,", "##contig=<ID=Chr1>") == 3
    assert header_line(text, "##contig=<ID=Chr2,", "##contig=<ID=Chr2>") == 2
    assert header_line(text, "##contig=<ID=Chr") == 2 and header_line(text, "@SQ") is None

