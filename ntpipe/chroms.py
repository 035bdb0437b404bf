"""Chromosome names across naming conventions.

Rice files name the same chromosome ``Chr1`` (MSU, IRGSP), ``chr01``
(RAP-DB), ``chr1`` (UCSC style) or ``1`` (Ensembl). :func:`canonical` maps
them to one key (a ``chr``/``Chr``/``CHR`` prefix dropped, leading zeros of a
number dropped, case ignored), and :func:`match` pairs the names of one file
with those of a genome through that key, refusing any ambiguous pairing;
:class:`Matcher` does the same one name at a time, as a file is read.
"""

import re

__all__ = ["canonical", "chrom_key", "match", "Matcher", "listed", "other_naming", "log_renamed"]

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


class Matcher:
    """Pairs a file's chromosome names with a genome's one name at a time, as
    the file is read, by the rule of :func:`match`.

    Parameters
    ----------
    targets : iterable of str, the genome's names (e.g. its ``.fai`` order).
    aliases : False pairs exact names only (a name in another naming has no target).

    Calling it with a name returns the target name or None, and raises
    ValueError where :func:`match` would. ``renamed`` holds the pairs so far
    whose names differ.
    """

    def __init__(self, targets, aliases=True):
        self.targets = dict.fromkeys(targets)
        self.aliases = aliases
        self.by_key = {}
        for t in self.targets if aliases else ():
            self.by_key.setdefault(canonical(t), []).append(t)
        self.pairs, self.taken = {}, {}  # name -> target (or None), target -> name

    def __call__(self, name):
        if name in self.pairs:
            return self.pairs[name]
        target = name if name in self.targets else None
        if target is None and self.aliases:
            candidates = self.by_key.get(canonical(name), [])
            if len(candidates) > 1:
                raise ValueError(f"chromosome {name!r} matches several names of the genome: {candidates}")
            target = candidates[0] if candidates else None
        if target is not None:
            if self.taken.setdefault(target, name) != name:
                raise ValueError(f"chromosomes {self.taken[target]!r} and {name!r} are both the genome's {target!r}")
        self.pairs[name] = target
        return target

    @property
    def renamed(self):
        """``{name: target}`` of the names paired with another name so far."""
        return {n: t for n, t in self.pairs.items() if t is not None and t != n}


def chrom_key(aliases):
    """What chromosome names are compared by: the name itself, or with ``aliases`` its :func:`canonical` key."""
    return canonical if aliases else str


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
    pair = Matcher(targets)
    return {name: target for name in names if (target := pair(name)) is not None}


def listed(names, shown=12):
    """``names`` for a message: the first ``shown``, then how many in all."""
    names = list(names)
    more = f", ... ({len(names)} in all)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def other_naming(name, sizes, fix):
    """A hint for a message when ``name`` is one of ``sizes``' chromosomes under
    another naming (chr01 for Chr1): where it is, and ``fix``; else ''."""
    try:
        found = match([name], sizes).get(name)
    except ValueError:
        return ""
    return f"; it is {found!r} there under another naming: {fix}" if found and found != name else ""


def log_renamed(logger, path, renamed):
    """Log ``renamed`` (``{file's name: genome's name}``, e.g. :attr:`Matcher.renamed`) for the file ``path``."""
    if renamed:
        logger.info("%s: chromosome names matched to the genome's (chrom_aliases): %s", path,
                    ", ".join(f"{k} -> {v}" for k, v in renamed.items()))
