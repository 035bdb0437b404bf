"""Files written whole or not at all: under a temporary name beside the
target, renamed to it when complete; text files read plain or gzipped; the
header line a message about a file names; the digest of the code behind a kept result."""

import gzip
import hashlib
import os
import uuid
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "workdir_path", "source_digest", "is_gzip", "open_text", "text_lines", "not_text", "header_line"]


@contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path beside ``path``; rename it to ``path`` when the
    block ends without an exception, delete it otherwise.

    The temporary name has a random part, so jobs (on any host) writing the
    same file never share one; ``suffix`` ends it, for writers that read the
    format from the extension (``".bam"``). Readers that glob for finished
    files see ``*.tmp`` names only while a write is under way.

    Examples
    --------
    >>> with atomic_path("table.tsv") as tmp:  # doctest: +SKIP
    ...     frame.to_csv(tmp, sep="\\t")
    """
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):  # (unlink raises on a read-only folder even for a missing file)
            tmp.unlink()


def workdir_path(path):
    """``path`` as the workflow's rules name it: normalised (``./a/b`` and ``a//b`` are ``a/b``), and relative
    to the working directory when it lies inside it (``/run/a/b`` from ``/run`` is ``a/b``), since Snakemake
    tells files apart by the path given, so one file named two ways would be two inputs."""
    path = os.path.normpath(path)
    if os.path.isabs(path):
        relative = os.path.relpath(path)
        if relative != os.pardir and not relative.startswith(os.pardir + os.sep):
            return relative
    return path


def source_digest(*modules):
    """A digest of the source files of ``modules``: it changes with the code that computes a result, so what was
    kept of an earlier result (a checkpoint, cached predictions) is not trusted after an upgrade."""
    h = hashlib.blake2b(digest_size=16)
    for module in modules:
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()


def is_gzip(path):
    """True when ``path`` starts with gzip's magic bytes (bgzip included), whatever its name."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_text(path):
    """``path`` opened for reading text, through gzip when it is gzipped (:func:`is_gzip`)."""
    return gzip.open(path, "rt", encoding="utf-8") if is_gzip(path) else open(path, encoding="utf-8")


def text_lines(path, expected):
    """``(line number, line)`` of a text file, gzipped or not (:func:`open_text`); bytes that are not UTF-8
    (a binary file, or text saved as UTF-16 or Latin-1) are a ValueError naming the file and ``expected``."""
    lineno = 0
    with open_text(path) as fh:
        try:
            for lineno, line in enumerate(fh, 1):
                yield lineno, line
        except UnicodeDecodeError:
            raise ValueError(not_text(path, expected, lineno + 1)) from None


def not_text(path, expected, lineno=1):
    """The message for a file that does not read as UTF-8 text from line ``lineno`` on."""
    where = "" if lineno == 1 else f" from line {lineno} on"
    return (f"{path}: not UTF-8 text{where}; expected {expected} (a binary file, such as a BAM, bigWig or bigBed?"
            " text saved as UTF-16 or Latin-1? save it as UTF-8)")


def header_line(text, *prefixes):
    """1-based number of the first line of ``text`` (a file's header) starting with any of ``prefixes``, else None."""
    for i, line in enumerate(text.splitlines(), 1):
        if line.startswith(prefixes):
            return i
    return None
