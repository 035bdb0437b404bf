"""Tests for ntpipe.igv: the session XML read back."""

import xml.etree.ElementTree as ET

import pytest

from ntpipe.genome import write_fasta
from ntpipe.igv import PALETTE, write_panel_session, write_session


@pytest.fixture
def layout(tmp_path):
    (tmp_path / "ref").mkdir()
    genome = write_fasta(tmp_path / "ref" / "nipponbare.fa", {"Chr1": "ACGT" * 10, "Chr2": "GGCC"})
    tracks = {}
    for mark in ("H3K4me3", "H3K27me3", "H3K9ac&<x>"):  # odd characters must be escaped
        bw = tmp_path / "results" / "tracks" / "IRIS_313" / f"{mark}.bw"
        bw.parent.mkdir(parents=True, exist_ok=True)
        bw.write_bytes(b"")
        tracks[mark] = bw
    return tmp_path, genome, tracks


def test_session_round_trip(layout):
    root, genome, tracks = layout
    session_path = root / "results" / "tracks" / "IRIS_313" / "igv_session.xml"
    out = write_session(session_path, genome, tracks, colors={"H3K27me3": "0,0,255"})
    assert out == session_path
    assert not list(session_path.parent.glob("*.tmp"))
    session = ET.parse(session_path).getroot()
    assert session.tag == "Session" and session.get("version") == "8"
    assert session.get("genome") == "../../../ref/nipponbare.fa"
    assert (session_path.parent / session.get("genome")).resolve() == genome.resolve()
    assert session.get("locus") == "Chr1"

    resources = session.findall("Resources/Resource")
    assert [r.get("name") for r in resources] == list(tracks)
    for res, bw in zip(resources, tracks.values()):
        assert not res.get("path").startswith("/")
        assert (session_path.parent / res.get("path")).resolve() == bw.resolve()

    panel = session.find("Panel")
    assert panel.get("name") == "DataPanel"
    track_elems = panel.findall("Track")
    assert [t.get("name") for t in track_elems] == list(tracks)
    assert [t.get("id") for t in track_elems] == [r.get("path") for r in resources]
    colors = [t.get("color") for t in track_elems]
    assert colors[0] == ",".join(map(str, PALETTE[0]))
    assert colors[1] == "0,0,255"
    assert len(set(colors)) == len(colors)
    for t in track_elems:
        assert t.get("autoScale") == "false"
        rng = t.find("DataRange")
        assert (rng.get("minimum"), rng.get("maximum"), rng.get("baseline"), rng.get("type")) == ("0.0", "1.0", "0.0", "LINEAR")


def test_many_tracks_get_distinct_colours(tmp_path):
    genome = write_fasta(tmp_path / "g.fa", {"Chr1": "ACGT"})
    tracks = {}
    for i in range(20):
        tracks[f"m{i}"] = tmp_path / f"m{i}.bw"
        tracks[f"m{i}"].write_bytes(b"")
    write_session(tmp_path / "s.xml", genome, tracks)
    colors = [t.get("color") for t in ET.parse(tmp_path / "s.xml").getroot().iter("Track")]
    assert len(set(colors)) == 20
    assert ET.parse(tmp_path / "s.xml").getroot().get("genome") == "g.fa"


def test_bad_input(layout):
    root, genome, tracks = layout
    with pytest.raises(FileNotFoundError, match="missing.bw"):
        write_session(root / "s.xml", genome, {"x": root / "missing.bw"})
    with pytest.raises(ValueError, match="expected 'r,g,b'"):
        write_session(root / "s.xml", genome, tracks, colors={"H3K4me3": "red"})
    with pytest.raises(ValueError, match="no tracks"):
        write_session(root / "s.xml", genome, {})
    assert not (root / "s.xml").exists()


def test_annotation_goes_under_the_tracks(layout):
    root, genome, tracks = layout
    genes = root / "results" / "annotation" / "genes.gff3.gz"
    genes.parent.mkdir(parents=True)
    genes.write_bytes(b"")
    session_path = root / "results" / "tracks" / "IRIS_313" / "igv_session.xml"
    write_session(session_path, genome, tracks, annotation=genes)
    session = ET.parse(session_path).getroot()
    assert [p.get("name") for p in session.findall("Panel")] == ["DataPanel", "FeaturePanel"]
    resource = session.find("Resources/Resource[@name='genes']")
    assert resource.get("path") == "../../annotation/genes.gff3.gz"
    feature_tracks = session.findall("Panel[@name='FeaturePanel']/Track")
    assert [t.get("clazz").rsplit(".", 1)[1] for t in feature_tracks] == ["SequenceTrack", "FeatureTrack"]
    assert feature_tracks[1].get("id") == resource.get("path")
    with pytest.raises(FileNotFoundError, match="genes.gff3"):
        write_session(session_path, genome, tracks, annotation=root / "genes.gff3")


def test_panel_session_groups_varieties_by_mark(tmp_path):
    genome = write_fasta(tmp_path / "reference.fa", {"Chr1": "ACGT" * 10})
    genes = tmp_path / "results" / "annotation" / "genes.gff3.gz"
    genes.parent.mkdir(parents=True)
    genes.write_bytes(b"")
    tracks = {}
    for mark in ("H3K27me3", "H3K4me3"):
        tracks[mark] = {}
        for variety in ("IRIS_313-10003", "IRIS_313-10005"):
            bw = tmp_path / "results" / "tracks" / variety / f"{mark}.bw"
            bw.parent.mkdir(parents=True, exist_ok=True)
            bw.write_bytes(b"")
            tracks[mark][variety] = bw
    session_path = tmp_path / "results" / "panel" / "igv_session.xml"
    write_panel_session(session_path, genome, tracks, annotation=genes)
    session = ET.parse(session_path).getroot()
    assert session.get("genome") == "../../reference.fa"
    data = session.findall("Panel[@name='DataPanel']/Track")
    assert [t.get("name") for t in data] == [
        "IRIS_313-10003 H3K27me3", "IRIS_313-10005 H3K27me3", "IRIS_313-10003 H3K4me3", "IRIS_313-10005 H3K4me3"
    ]
    assert [t.get("id") for t in data] == [
        f"../tracks/{v}/{m}.bw" for m in tracks for v in ("IRIS_313-10003", "IRIS_313-10005")
    ]
    mark_color = [",".join(map(str, c)) for c in PALETTE[:2]]
    assert [t.get("color") for t in data] == [mark_color[0]] * 2 + [mark_color[1]] * 2
    assert session.find("Panel[@name='FeaturePanel']/Track[@name='genes']").get("id") == "../annotation/genes.gff3.gz"


def test_session_names_a_symlinked_genome_by_its_link(tmp_path):
    """A reference linked into the run folder (a shared genome) stays the link the sheet names, so that the
    session opens wherever the run folder is copied with its link, not a path into the shared folder."""
    (tmp_path / "shared").mkdir()
    shared = write_fasta(tmp_path / "shared" / "nipponbare.fa", {"Chr1": "ACGT" * 10})
    run = tmp_path / "run"
    (run / "ref").mkdir(parents=True)
    for suffix in ("", ".fai"):
        (run / "ref" / f"reference.fa{suffix}").symlink_to(f"{shared}{suffix}")
    bw = run / "results" / "tracks" / "IRIS_313" / "H3K4me3.bw"
    bw.parent.mkdir(parents=True)
    bw.write_bytes(b"")
    session = ET.parse(write_session(bw.parent / "igv_session.xml", run / "ref" / "reference.fa", {"H3K4me3": bw})).getroot()
    assert session.get("genome") == "../../../ref/reference.fa"


def test_session_on_chrom_sizes_opens_the_chromosomes_without_sequence(tmp_path):
    from ntpipe.genome import write_chrom_sizes

    fasta = write_fasta(tmp_path / "v.fa", {"Chr2": "ACGT" * 5, "Chr1": "AC"})
    sizes = write_chrom_sizes(fasta, tmp_path / "v.chrom.sizes")
    assert sizes.read_text() == "Chr2\t20\nChr1\t2\n"  # .fai order
    bw = tmp_path / "H3K4me3.bw"
    bw.write_bytes(b"")
    session = ET.parse(write_session(tmp_path / "igv_session.xml", sizes, {"H3K4me3": bw})).getroot()
    assert (session.get("genome"), session.get("hasSequenceTrack"), session.get("locus")) == ("v.chrom.sizes", "false", "Chr2")


def test_session_paths_hold_through_a_symlinked_results_folder(tmp_path):
    """results/ linked to scratch space: '..' from the session climbs the real folders, so the paths must too."""
    (tmp_path / "run").mkdir()
    genome = write_fasta(tmp_path / "run" / "reference.fa", {"Chr1": "ACGT" * 10})
    (tmp_path / "scratch" / "tracks" / "V1").mkdir(parents=True)
    (tmp_path / "run" / "results").symlink_to(tmp_path / "scratch")
    bw = tmp_path / "run" / "results" / "tracks" / "V1" / "H3K4me3.bw"
    bw.write_bytes(b"")
    path = write_session(bw.parent / "igv_session.xml", genome, {"H3K4me3": bw})
    session = ET.parse(path).getroot()
    assert (path.parent / session.get("genome")).resolve() == genome.resolve()
    assert (path.parent / session.find("Resources/Resource").get("path")).resolve() == bw.resolve()
