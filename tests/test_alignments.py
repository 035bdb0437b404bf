from ntpipe.alignments import open_alignments, read_starts
from test_labels import _bam


def test_read_starts_keep_one_read_per_5_prime_end_and_strand(tmp_path):
    # 50 bp reads: a reverse read at 100 has its 5' end at 149
    reads = [
        ("Chr1", 100), ("Chr1", 100), ("Chr1", 100, {"flag": 16}), ("Chr1", 100, {"flag": 16}),  # 100 and 149, once each
        ("Chr1", 99, {"flag": 16}),  # 148
        ("Chr1", 149),  # 149 forward: another strand than the reverse read's 149
        ("Chr1", 200, {"flag": 0x4}), ("Chr1", 201, {"flag": 0x100}), ("Chr1", 202, {"flag": 0x200}),
        ("Chr1", 203, {"flag": 0x400}), ("Chr1", 204, {"flag": 0x800}), ("Chr1", 205, {"mapping_quality": 9}),
        ("Chr1", 300, {"flag": 0x1 | 0x2 | 0x40}), ("Chr1", 450, {"flag": 0x1 | 0x2 | 0x80 | 0x10}),  # a fragment: 300
        ("Chr1", 500, {"flag": 0x1 | 0x40}),  # read 1 of an improper pair
        ("Chr1", 700, {"mapping_quality": 10}),
    ]
    with open_alignments(_bam(tmp_path / "r.bam", {"Chr1": 1000}, reads)) as aln:
        assert read_starts(aln, "Chr1", 10).tolist() == [100, 148, 149, 149, 300, 700]
        assert read_starts(aln, "Chr1", 0).tolist() == [100, 148, 149, 149, 205, 300, 700]
