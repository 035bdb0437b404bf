import gzip
import os

import numpy as np
import pysam
import pytest

from ntpipe.encoding import decode
from ntpipe.genome import chrom_sizes, encode_chrom, fetch, open_fasta, write_fasta


def _write(path, text):
    path.write_text(text)
    return path


def test_fai_order_with_chr10(tmp_path):
    fa = write_fasta(tmp_path / "g.fa", {"Chr1": "ACGT" * 5, "Chr2": "GG", "Chr10": "TTTT", "Chr9": "A"})
    assert [c for c, _ in chrom_sizes(fa)] == ["Chr1", "Chr2", "Chr10", "Chr9"]
    assert dict(chrom_sizes(fa))["Chr1"] == 20


def test_fetch_is_zero_based_half_open_and_encode_chrom(tmp_path):
    fa = _write(tmp_path / "g.fa", ">Chr1 some description\nACGTacgtNN\nRYAC\n")
    fasta = open_fasta(fa)
    assert fetch(fasta, "Chr1", 0, 4) == "ACGT"
    assert fetch(fasta, "Chr1", 4, 8) == "acgt"
    tokens = encode_chrom(fasta, "Chr1")
    assert decode(tokens) == "ACGTACGTNNNNAC"
    assert (tmp_path / "g.fa.fai").exists()


def test_bgzip_fasta(tmp_path):
    plain = write_fasta(tmp_path / "g.fa", {"Chr1": "ACGT" * 100, "Chr10": "GATTACA" * 20})
    pysam.tabix_compress(str(plain), str(tmp_path / "g.fa.gz"))
    fasta = open_fasta(tmp_path / "g.fa.gz")
    assert chrom_sizes(fasta) == [("Chr1", 400), ("Chr10", 140)]
    assert fetch(fasta, "Chr10", 0, 7) == "GATTACA"


def test_plain_gzip_is_a_clear_error(tmp_path):
    with gzip.open(tmp_path / "g.fa.gz", "wt") as fh:
        fh.write(">Chr1\nACGT\n")
    with pytest.raises(ValueError, match=r"g.fa.gz: compressed FASTA must be bgzip") as err:
        open_fasta(tmp_path / "g.fa.gz")
    assert "cannot be written" not in str(err.value)  # pyfaidx's error is an OSError, as a read-only folder's is


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no sequences"),
        ("ACGT\n", "no sequences"),
        (">Chr1\nAC\n>Chr1\nGT\n", "duplicate sequence name 'Chr1'"),
        ("> Chr1\nACGT\n", "no name"),
        (">\nACGT\n", "no name"),
    ],
)
def test_bad_fasta(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        open_fasta(_write(tmp_path / "bad.fa", text))


def test_missing_fasta(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.fa"):
        open_fasta(tmp_path / "missing.fa")


def test_bytes_that_are_not_sequence(tmp_path):
    fasta = open_fasta(_write(tmp_path / "g.fa", ">Chr1\nACGT\nAC!T\n"))
    with pytest.raises(ValueError, match=r"g.fa, sequence 'Chr1'.*'!'"):
        encode_chrom(fasta, "Chr1")


def test_encoding_is_vectorised_lookup(tmp_path):
    seq = "".join(np.random.default_rng(0).choice(list("ACGTacgtN"), 10000))
    fasta = open_fasta(write_fasta(tmp_path / "g.fa", {"Chr1": seq}))
    assert decode(encode_chrom(fasta, "Chr1")) == seq.upper()


def test_an_index_that_cannot_be_written_is_a_clear_error(tmp_path):
    fasta = _write(tmp_path / "ref.fa", ">Chr1\nACGT\n")
    fai = tmp_path / "ref.fa.fai"
    fai.mkdir()  # in the way of the index, as a read-only folder would be
    os.utime(fai, (0, 0))  # older than the FASTA: rebuilt
    with pytest.raises(ValueError, match=r"ref.fa: has no up-to-date index and .*ref.fa.fai cannot be written .*samtools faidx"):
        open_fasta(fasta)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ref.fa", "ref.fa.fai"]  # no temporary left


def test_a_read_only_folder_is_a_clear_error(tmp_path):
    (tmp_path / "ro").mkdir()
    fasta = _write(tmp_path / "ro" / "ref.fa", ">Chr1\nACGT\n")
    (tmp_path / "ro").chmod(0o555)
    try:
        if os.access(tmp_path / "ro", os.W_OK):
            pytest.skip("the folder stays writable (running as root)")
        with pytest.raises(ValueError, match=r"ref.fa: has no up-to-date index and .*cannot be written \(Permission denied\)"):
            open_fasta(fasta)
    finally:
        (tmp_path / "ro").chmod(0o755)
