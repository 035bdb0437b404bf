import numpy as np
import pysam
import pytest

from ntpipe.genome import chrom_sizes, write_fasta
from ntpipe.liftover import Liftover
from ntpipe.variants import read_variants, write_consensus

INS, DEL = 60, 13  # bases inserted after Chr1:499, deleted after Chr1:2500


def mapped_cultivar(tmp_path, sample="CVX"):
    """A reference (Chr1 3000 bp, Chr2 1500 bp), one cultivar's VCF against it (an insertion, a SNP
    and a deletion on Chr1, a 200 bp deletion on Chr2), and its consensus: ``(reference, vcf, consensus)``."""
    rng = np.random.default_rng(3)
    chr1, chr2 = ("".join(rng.choice(list("ACGT"), n)) for n in (3000, 1500))
    reference = write_fasta(tmp_path / "ref.fa", {"Chr1": chr1, "Chr2": chr2})
    snp = "A" if chr1[1400] != "A" else "C"
    records = [
        ("Chr1", 500, chr1[499], chr1[499] + "".join(rng.choice(list("ACGT"), INS))),
        ("Chr1", 1401, chr1[1400], snp),
        ("Chr1", 2501, chr1[2500 : 2501 + DEL], chr1[2500]),
        ("Chr2", 701, chr2[700:901], chr2[700]),
    ]
    lines = ["##fileformat=VCFv4.2", "##contig=<ID=Chr1,length=3000>", "##contig=<ID=Chr2,length=1500>",
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", sample])]
    lines += ["\t".join([c, str(p), ".", r, a, ".", "PASS", ".", "GT", "1/1"]) for c, p, r, a in records]
    (tmp_path / "cultivars.vcf").write_text("\n".join(lines) + "\n")
    vcf = pysam.tabix_index(str(tmp_path / "cultivars.vcf"), preset="vcf", force=True)
    consensus = write_consensus(reference, read_variants(vcf, sample, reference), tmp_path / "consensus.fa")
    return reference, vcf, consensus


def test_positions_shift_past_indels_and_deleted_bases_map_to_the_deletion(tmp_path):
    reference, vcf, consensus = mapped_cultivar(tmp_path)
    assert dict(chrom_sizes(consensus)) == {"Chr1": 3000 + INS - DEL, "Chr2": 1300}
    with Liftover(reference, vcf, "CVX", dict(chrom_sizes(consensus))) as lift:
        assert lift.reference_sizes == {"Chr1": 3000, "Chr2": 1500}
        got = lift.positions("Chr1", [0, 499, 500, 1400, 2500, 2501, 2513, 2514, 3000])
        assert got.tolist() == [0, 499, 500 + INS, 1400 + INS, 2500 + INS, 2501 + INS, 2501 + INS, 2501 + INS, 3000 + INS - DEL]
        assert lift.positions("Chr2", [700, 800, 901]).tolist() == [700, 701, 701]


def test_intervals_grow_with_insertions_shrink_with_deletions(tmp_path):
    reference, vcf, consensus = mapped_cultivar(tmp_path)
    with Liftover(reference, vcf, "CVX", dict(chrom_sizes(consensus))) as lift:
        starts, ends = lift.intervals("Chr1", [480, 1140, 2505], [520, 1640, 2510])
        # [480, 520) holds the insertion; [2505, 2510) lies inside the deletion: dropped
        assert starts.tolist() == [480, 1140 + INS] and ends.tolist() == [520 + INS, 1640 + INS]
        starts, ends = lift.intervals("Chr2", [650, 850], [720, 1000])  # apart on the reference, joined by the deletion
        assert starts.tolist() == [650] and ends.tolist() == [800]


def test_a_consensus_of_other_lengths_is_an_error(tmp_path):
    reference, vcf, _ = mapped_cultivar(tmp_path)
    with Liftover(reference, vcf, "CVX", dict(chrom_sizes(reference))) as lift:
        with pytest.raises(ValueError, match=r"cultivars.vcf.gz, sample CVX: Chr1 .* is 3047 bp, but the consensus genome's Chr1 is 3000"):
            lift.positions("Chr1", [0])
    with pytest.raises(ValueError, match=r"sample 'CVY' is not in the VCF"):
        Liftover(reference, vcf, "CVY")
