"""Peaks and reads on the reference's coordinates, lifted onto a cultivar's consensus.

Most labs align each cultivar's ChIP-seq to the reference (Nipponbare). Such
a training row gives the cultivar as a VCF against the reference (``vcf`` +
``sample`` instead of ``genome``); its windows hold the cultivar's own
sequence, its consensus (:func:`ntpipe.variants.write_consensus`), and its
peaks or reads are moved onto that consensus before they are labelled like an
own assembly's (:mod:`ntpipe.labels`).

The map is ``ref_to_var`` of :func:`ntpipe.variants.apply_variants`: the
consensus position of every reference position. A peak ``[s, e)`` becomes
``[map[s], map[e])`` (bases inserted inside a peak join it, a deletion
shortens it; a peak wholly deleted is dropped); a read's 5' end ``p`` becomes
``map[p]`` (a base of a deletion maps to where the deletion is).
"""

import numpy as np

from .genome import chrom_sizes, encode_chrom, open_fasta
from .intervals import merge_intervals
from .variants import apply_variants, read_variants

__all__ = ["Liftover"]


class Liftover:
    """Reference positions -> positions on one VCF sample's consensus.

    Built one chromosome at a time (its map is ``8 x length`` bytes) and kept
    until another chromosome is asked for: lift a chromosome's peaks or reads
    together.

    Parameters
    ----------
    reference : FASTA the VCF was called against.
    vcf, sample : the VCF and its sample (None for a single-sample VCF).
    consensus_sizes : optional ``{chrom: length}`` of the consensus the labels
        are for: a chromosome whose lifted length differs is an error.
    aliases : match the VCF's chromosome names to the reference's
        (:func:`ntpipe.variants.read_variants`).

    Attributes
    ----------
    reference_sizes : ``{chrom: length}`` of the reference, in ``.fai`` order.
    """

    def __init__(self, reference, vcf, sample=None, consensus_sizes=None, aliases=False):
        self.reference, self.vcf, self.sample = reference, vcf, sample
        self._fasta = open_fasta(reference)
        self.reference_sizes = dict(chrom_sizes(self._fasta))
        self._variants = read_variants(vcf, sample, self._fasta, aliases=aliases)
        self._consensus_sizes = consensus_sizes
        self._chrom, self._map = None, None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._fasta.close()

    def _ref_to_var(self, chrom):
        if chrom != self._chrom:
            self._map = None  # free the last chromosome's map first
            _, self._map = apply_variants(encode_chrom(self._fasta, chrom), self._variants.get(chrom))
            self._chrom = chrom
            sizes = self._consensus_sizes
            if sizes is not None and sizes.get(chrom) != self._map[-1]:
                raise ValueError(
                    f"{self.vcf}, sample {self.sample or '(its only one)'}: {chrom} of {self.reference} with these variants"
                    f" is {self._map[-1]} bp, but the consensus genome's {chrom} is {sizes.get(chrom, 'missing')}"
                    " (written from another VCF or reference? rebuild it)"
                )
        return self._map

    def positions(self, chrom, positions):
        """Consensus positions of reference positions ``0 <= p <= length`` on ``chrom`` (int64 array)."""
        return self._ref_to_var(chrom)[np.asarray(positions, dtype=np.int64)]

    def intervals(self, chrom, starts, ends):
        """Half-open reference intervals on ``chrom`` as merged consensus intervals ``(starts, ends)``;
        those wholly inside a deletion are dropped."""
        ref_to_var = self._ref_to_var(chrom)
        s, e = ref_to_var[np.asarray(starts, np.int64)], ref_to_var[np.asarray(ends, np.int64)]
        keep = e > s
        return merge_intervals(s[keep], e[keep])
