"""Chromosome names across naming conventions.

Rice files name the same chromosome ``Chr1`` (MSU, IRGSP), ``chr01``
(RAP-DB), ``chr1`` (UCSC style) or ``1`` (Ensembl). :func:`canonical` maps
them to one key (a ``chr``/``Chr``/``CHR`` prefix dropped, leading zeros of a
number dropped, case ignored), and :func:`match` pairs the names of one file
with those of a genome through that key, refusing any ambiguous pairing.
"""

import re

__all__ = ["canonical", "match"]

_PREFIX = re.compile(r"^chr(?:omosome)?[_-]?", re.IGNORECASE)


def canonical(name):
    """The naming-independent key of a chromosome name.

    Examples
    --------
    >>> [canonical(n) for n in ["Chr1", "chr01", "chr1", "1", "Chromosome_1"]]
    ['1', '1', '1', '1', '1']
    >>> canonical("ChrUn_scaffold1"), canonical("chrM"), canonical("Chr10")
    ('un_scaffold1', 'm', '10')
    """
    rest = _PREFIX.sub("", name, count=1) or name
    return str(int(rest)) if rest.isdigit() else rest.lower()


def match(names, targets):
    """Pair each name with a target name: itself when the targets hold it,
    else the one target of the same :func:`canonical` key.

    Parameters
    ----------
    names : iterable of str, e.g. a VCF's or BAM's contigs, a peaks file's chromosomes.
    targets : iterable of str, e.g. a genome's ``.fai`` names.

    Returns
    -------
    dict ``{name: target}`` for every name that has one (names without any
    are left out: the caller says what it expected).

    Raises
    ------
    ValueError when a name's key is shared by several targets (``Chr1`` and
    ``chr01`` in one genome), or two names land on one target.
    """
    targets = list(targets)
    present = set(targets)
    by_key = {}
    for t in targets:
        by_key.setdefault(canonical(t), []).append(t)
    out, taken = {}, {}
    for name in names:
        if name in present:
            target = name
        else:
            candidates = by_key.get(canonical(name), [])
            if len(candidates) > 1:
                raise ValueError(f"chromosome {name!r} matches several names of the genome: {candidates}")
            if not candidates:
                continue
            target = candidates[0]
        if target in taken and taken[target] != name:
            raise ValueError(f"chromosomes {taken[target]!r} and {name!r} are both the genome's {target!r}")
        taken[target] = name
        out[name] = target
    return out
