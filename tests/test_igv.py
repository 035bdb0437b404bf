"""Tests for ntpipe.igv: the session XML read back."""

import xml.etree.ElementTree as ET

import pytest

from ntpipe.genome import write_fasta
from ntpipe.igv import PALETTE, write_session


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
