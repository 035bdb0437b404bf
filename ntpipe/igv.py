"""IGV desktop session files (XML, session version 8) for a genome and its tracks.

Every path in the session is written relative to the session file's
directory (IGV resolves relative ``genome``, ``Resource path`` and ``Track
id`` against the session's location), so a results folder can be moved or
copied as a whole.

A gene annotation (a bgzipped, tabix-indexed GFF3 on the genome's names,
:func:`ntpipe.annotation.write_indexed_gff3`) goes in the feature panel under
the tracks, beside the sequence.
"""

import colorsys
import os
import xml.etree.ElementTree as ET
from pathlib import Path

from .files import atomic_path

__all__ = ["PALETTE", "write_session", "write_panel_session"]

# ColorBrewer Set1 + Dark2 (distinct on white); more marks get golden-angle hues.
PALETTE = [
    (228, 26, 28),
    (55, 126, 184),
    (77, 175, 74),
    (152, 78, 163),
    (255, 127, 0),
    (166, 86, 40),
    (247, 129, 191),
    (27, 158, 119),
    (117, 112, 179),
    (102, 166, 30),
    (230, 171, 2),
    (102, 102, 102),
]


def _palette_color(i):
    if i < len(PALETTE):
        return PALETTE[i]
    hue = (i * 0.618033988749895) % 1.0
    return tuple(round(255 * c) for c in colorsys.hsv_to_rgb(hue, 0.75, 0.8))


def _color_string(name, color):
    if isinstance(color, str):
        parts = color.split(",")
    else:
        parts = list(color)
    try:
        rgb = [int(p) for p in parts]
    except (TypeError, ValueError):
        rgb = []
    if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
        raise ValueError(f"colour of track {name!r} is {color!r}; expected 'r,g,b' or (r, g, b) with values 0-255")
    return ",".join(map(str, rgb))


def _relative(target, start):
    target = Path(target)
    if not target.exists():
        raise FileNotFoundError(f"file for the IGV session not found: {target}")
    # the folders resolved, as IGV and the OS follow '..' (a results/ linked to scratch space), the file itself
    # not: a symlinked reference stays the link the user named, inside the run folder
    return Path(os.path.relpath(target.absolute().parent.resolve() / target.name, start.resolve())).as_posix()


def _first_sequence(genome):
    """Name of the genome's first sequence from its ``.fai`` (or from the file itself, a
    ``.chrom.sizes``), or None."""
    fai = Path(genome) if str(genome).endswith(".chrom.sizes") else Path(str(genome) + ".fai")
    if not fai.is_file():
        return None
    with open(fai) as fh:
        line = fh.readline()
    return line.split("\t", 1)[0] or None


def write_session(path, genome, tracks, colors=None, locus=None, annotation=None):
    """Write an IGV desktop session that opens a FASTA genome and bigWig tracks.

    Each track is a bar chart with a fixed 0-1 data range (probabilities), in
    its own colour: ``colors[name]`` when given, else the next colour of
    :data:`PALETTE` in the order of ``tracks``.

    Parameters
    ----------
    path : session file to write (atomically).
    genome : indexed FASTA path (IGV loads ``genome.fai`` next to it), or a
        ``NAME.chrom.sizes`` file (:func:`ntpipe.genome.write_chrom_sizes`): IGV
        then shows the chromosomes without their sequence.
    tracks : ``{name: bigWig path}``, in display order.
    colors : optional ``{name: 'r,g,b' or (r, g, b)}``.
    locus : optional start locus; default the first sequence of ``genome.fai``
        (whole sequence), or ``All`` without an index.
    annotation : optional GFF3 on ``genome``'s coordinates and names
        (``.gff3.gz`` with its ``.tbi``, or plain), shown under the tracks.

    Returns
    -------
    Path of the session file.

    Raises
    ------
    FileNotFoundError for a missing genome, track or annotation; ValueError
    for no tracks or a malformed colour.
    """
    path = Path(path)
    if not tracks:
        raise ValueError("no tracks given for the IGV session; expected {name: bigWig path}")
    colors = colors or {}
    unknown = set(colors) - set(tracks)
    if unknown:
        raise ValueError(f"colours given for unknown tracks {sorted(unknown)!r}; tracks are {list(tracks)!r}")
    base = path.parent if str(path.parent) else Path(".")
    base.mkdir(parents=True, exist_ok=True)
    if locus is None:
        locus = _first_sequence(genome) or "All"

    session = ET.Element(
        "Session",
        genome=_relative(genome, base),
        hasGeneTrack="false",
        hasSequenceTrack="false" if str(genome).endswith(".chrom.sizes") else "true",
        locus=locus,
        version="8",
    )
    resources = ET.SubElement(session, "Resources")
    panel = ET.Element("Panel", name="DataPanel")
    for i, (name, bw_path) in enumerate(tracks.items()):
        rel = _relative(bw_path, base)
        color = _color_string(name, colors[name]) if name in colors else _color_string(name, _palette_color(i))
        ET.SubElement(resources, "Resource", name=name, path=rel)
        track = ET.SubElement(
            panel,
            "Track",
            attributeKey=name,
            autoScale="false",
            clazz="org.broad.igv.track.DataSourceTrack",
            color=color,
            fontSize="10",
            id=rel,
            name=name,
            renderer="BAR_CHART",
            visible="true",
            windowFunction="mean",
        )
        ET.SubElement(
            track,
            "DataRange",
            baseline="0.0",
            drawBaseline="true",
            flipAxis="false",
            maximum="1.0",
            minimum="0.0",
            type="LINEAR",
        )
    session.append(panel)
    if annotation is not None:
        rel = _relative(annotation, base)
        ET.SubElement(resources, "Resource", name="genes", path=rel)
        features = ET.SubElement(session, "Panel", name="FeaturePanel")
        ET.SubElement(
            features,
            "Track",
            attributeKey="Reference sequence",
            clazz="org.broad.igv.track.SequenceTrack",
            fontSize="10",
            id="Reference sequence",
            name="Reference sequence",
            visible="true",
        )
        ET.SubElement(
            features,
            "Track",
            attributeKey="genes",
            clazz="org.broad.igv.track.FeatureTrack",
            displayMode="EXPANDED",
            fontSize="10",
            id=rel,
            name="genes",
            visible="true",
        )
    tree = ET.ElementTree(session)
    ET.indent(tree, space="    ")
    with atomic_path(path) as tmp:
        tree.write(tmp, encoding="UTF-8", xml_declaration=True)
    return path


def write_panel_session(path, genome, tracks, annotation=None):
    """An IGV session of several varieties side by side, grouped by mark.

    Parameters
    ----------
    path : session file to write.
    genome : the reference FASTA the tracks are on.
    tracks : ``{mark: {variety: bigWig path}}``; tracks are named
        ``"{variety} {mark}"``, mark after mark, each mark in the colour it
        has in a variety's own session (:data:`PALETTE` in ``tracks`` order).
    annotation : optional GFF3, as for :func:`write_session`.
    """
    named, colors = {}, {}
    for i, (mark, by_variety) in enumerate(tracks.items()):
        for variety, bw in by_variety.items():
            named[f"{variety} {mark}"] = bw
            colors[f"{variety} {mark}"] = _palette_color(i)
    return write_session(path, genome, named, colors=colors, annotation=annotation)
