"""Tests for ntpipe.annotation: real GFF3 files, nearest genes by hand, the indexed copy."""

import gzip

import numpy as np
import pandas as pd
import pysam
import pytest

from ntpipe.annotation import nearest_genes, read_genes, write_indexed_gff3

SIZES = {"Chr1": 5000, "Chr2": 3000, "Chr10": 2000}  # fai order, not sorted as text

GFF3 = """##gff-version 3
##sequence-region Chr10 1 2000
# genes out of order, with their transcripts and exons
Chr10\ttest\tgene\t101\t300\t.\t-\t.\tID=Os10g0001;Name=HD%3B1
Chr10\ttest\tmRNA\t101\t300\t.\t-\t.\tID=Os10t0001-01;Parent=Os10g0001
Chr10\ttest\texon\t101\t300\t.\t-\t.\tParent=Os10t0001-01
Chr1\ttest\tncRNA_gene\t2001\t2100\t.\t+\t.\tName=MIR1
Chr1\ttest\tgene\t11\t500\t.\t+\t.\tID=Os01g0001;Name=Hd1
Chr2\ttest\tgene\t2991\t3000\t.\t.\t.\tnote=unnamed

##FASTA
>Chr1
ACGT
"""

EXPECTED = pd.DataFrame(
    [
        ("Chr1", 10, 500, "+", "Os01g0001", "Hd1"),
        ("Chr1", 2000, 2100, "+", "MIR1", "MIR1"),
        ("Chr2", 2990, 3000, ".", "Chr2:2991-3000", "Chr2:2991-3000"),
        ("Chr10", 100, 300, "-", "Os10g0001", "HD;1"),
    ],
    columns=["chrom", "start", "end", "strand", "gene_id", "name"],
)


def write(path, text, gz=False):
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


def renamed(text):
    return text.replace("Chr10\t", "chr10\t").replace("Chr1\t", "chr01\t").replace("Chr2\t", "2\t")


def test_genes_plain_and_gzipped(tmp_path):
    for gz in (False, True):
        path = write(tmp_path / f"genes{gz}.gff3", GFF3, gz)
        pd.testing.assert_frame_equal(read_genes(path, list(SIZES)), EXPECTED)
        pd.testing.assert_frame_equal(read_genes(path, SIZES), EXPECTED)
    in_file_order = read_genes(path)
    assert in_file_order["chrom"].tolist() == ["Chr10", "Chr1", "Chr1", "Chr2"]


def test_aliases(tmp_path, caplog):
    path = write(tmp_path / "genes.gff3.gz", renamed(GFF3), gz=True)
    with caplog.at_level("INFO"):
        pd.testing.assert_frame_equal(read_genes(path, SIZES, aliases=True), EXPECTED)
    assert "'chr01' is the reference's 'Chr1'" in caplog.text
    with pytest.raises(ValueError, match=r"genes.gff3.gz, line 4, column 1: chromosome 'chr10' is not in the reference"
                                         r" \(its .fai names Chr1, Chr2, Chr10\); it is 'Chr10' there under another"
                                         r" naming: set chrom_aliases: true"):
        read_genes(path, SIZES)
    with pytest.raises(ValueError, match=r"chromosome '2' matches several names of the genome: \['Chr2', 'chr02'\]"):
        read_genes(path, [*SIZES, "chr02"], aliases=True)


@pytest.mark.parametrize(
    "line, message",
    [
        ("Chr1\ttest\tgene\t11\t500\t.\t+\tID=x", r"line 4: expected 9 tab-separated GFF3 columns, got 8"),
        ("Chr1\ttest\tgene\t11\t5e2\t.\t+\t.\tID=x", r"line 4, columns 4-5: start '11' and end '5e2' must be integers"),
        ("Chr1\ttest\tgene\t500\t11\t.\t+\t.\tID=x", r"line 4, columns 4-5: start 500 and end 11 are not a GFF3 interval"),
        ("Chr1\ttest\tgene\t0\t11\t.\t+\t.\tID=x", r"line 4, columns 4-5: start 0 and end 11 are not a GFF3 interval"),
        ("Chr2\ttest\texon\t2990\t3001\t.\t+\t.\tID=x", r"line 4, column 5: end 3001 is past the end of Chr2 \(3000 bp\)"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, line, message):
    lines = GFF3.splitlines()
    path = write(tmp_path / "bad.gff3", "\n".join(lines[:3] + [line] + lines[3:]) + "\n")
    with pytest.raises(ValueError, match="bad.gff3, " + message):
        read_genes(path, SIZES)


def test_chromosomes_the_reference_lacks_are_skipped_with_a_warning(tmp_path, caplog):
    # a nuclear reference beside an annotation of the organelles and unplaced contigs too (MSU's ChrC, ChrSy)
    extra = "ChrC\ttest\tgene\t1\t11\t.\t+\t.\tID=c1\nChrSy\ttest\tgene\t5\t50\t.\t-\t.\tID=s1\n"
    path = write(tmp_path / "organelles.gff3", GFF3.replace("##FASTA", extra + "##FASTA"))
    with caplog.at_level("WARNING", logger="ntpipe.annotation"):
        pd.testing.assert_frame_equal(read_genes(path, SIZES), EXPECTED)
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}, line 11, column 1: chromosome 'ChrC' is not in the reference (its .fai names Chr1, Chr2, Chr10); its"
        " features are skipped, as are those of the file's other chromosomes the reference lacks (2 of 5: ChrC, ChrSy)"]
    copy = write_indexed_gff3(path, tmp_path / "copy.gff3.gz", list(SIZES))
    with pysam.TabixFile(str(copy)) as tbx:
        assert sorted(tbx.contigs) == ["Chr1", "Chr10", "Chr2"]
    only = write(tmp_path / "only.gff3", extra)
    with pytest.raises(ValueError, match=r"only.gff3, line 1, column 1: chromosome 'ChrC' is not in the reference .*, nor is"
                                         r" any other of the file's"):
        read_genes(only, SIZES)


def test_a_gff3_not_in_utf8_is_named(tmp_path):
    path = tmp_path / "latin1.gff3"
    path.write_bytes((GFF3 + "Chr1\ttest\tgene\t11\t500\t.\t+\t.\tID=g9;Note=g\u00e8ne\n").encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.gff3: not UTF-8 text; expected GFF3 text"):
        read_genes(path, SIZES)


def test_no_genes(tmp_path):
    path = write(tmp_path / "tx.gff3", "Chr1\tt\tmRNA\t1\t10\t.\t+\t.\tID=t1\nChr1\tt\texon\t1\t10\t.\t+\t.\tParent=t1\n")
    with pytest.raises(ValueError, match=r"tx.gff3: no features of type 'gene' .* its types are mRNA \(1\), exon \(1\)"):
        read_genes(path, SIZES)


def test_nearest_genes_by_hand():
    genes = pd.DataFrame(
        [
            ("Chr1", 100, 200, "+", "A", "A"),
            ("Chr1", 150, 400, "-", "B", "B"),  # overlaps A and reaches further
            ("Chr1", 601, 700, "+", "C", "C"),
            ("Chr1", 900, 950, "+", "D", "D"),
            ("Chr1", 900, 1000, "-", "E", "E"),  # starts with D, reaches further
        ],
        columns=["chrom", "start", "end", "strand", "gene_id", "name"],
    )
    cases = {
        0: ("A", 100),  # before every gene
        99: ("A", 1),
        100: ("A", 0),  # A's first base
        180: ("B", 0),  # inside A and B: B reaches further
        399: ("B", 0),  # B's last base
        450: ("B", 51),
        500: ("B", 101),  # 101 from B's last base and from C's first: the one starting first
        501: ("C", 100),
        949: ("E", 0),
        2000: ("E", 1001),  # after every gene
    }
    ids, dist = nearest_genes(genes, "Chr1", np.array(list(cases)))
    assert ids.dtype == object and dist.dtype == np.int64
    assert list(zip(ids, dist.tolist())) == list(cases.values())

    ids, dist = nearest_genes(genes, "Chr2", np.array([0, 10]))
    assert ids.tolist() == ["", ""] and dist.tolist() == [-1, -1]
    ids, dist = nearest_genes(genes, "Chr1", np.array([], dtype=np.int64))
    assert ids.shape == dist.shape == (0,)


def test_indexed_copy_for_igv(tmp_path):
    path = write(tmp_path / "genes.gff3", renamed(GFF3))
    out = write_indexed_gff3(path, tmp_path / "annotation" / "genes.gff3.gz", SIZES, aliases=True)
    assert sorted(p.name for p in out.parent.iterdir()) == ["genes.gff3.gz", "genes.gff3.gz.tbi"]
    pd.testing.assert_frame_equal(read_genes(out, SIZES), EXPECTED)
    with pysam.TabixFile(str(out)) as tbx:
        assert list(tbx.contigs) == ["Chr1", "Chr2", "Chr10"]
        assert [line.split("\t")[2] for line in tbx.fetch("Chr10", 150, 160)] == ["gene", "mRNA", "exon"]
        assert [line.split("\t")[3] for line in tbx.fetch("Chr1")] == ["11", "2001"]
