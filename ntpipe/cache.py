"""Window cache: predict each distinct window once, across varieties.

Rice varieties share most of their sequence, so most windows of a variety's
genome (FASTA or VCF consensus) are byte-for-byte windows some other variety
already had. :class:`WindowCache` keys every window by a hash of its encoded
bases and sends only windows it has never seen, each once, to the model.

Key
    128-bit BLAKE2b digest of the window's tokens (uint8, A,C,G,T,N = 0..4),
    so two windows share an entry only if their bases are identical (a
    collision among 1e12 distinct windows has probability ~1e-15).
    Hashing runs at ~430,000 windows/s for 1 kb windows on one core of the
    2-core AMD EPYC we measured on (1.5 M/s at 200 bp), ~60x what the seed
    preset reaches on an H100 at 1 kb (~7,000 windows/s at 400 TFLOP/s):
    the hashing is never the bottleneck (``benchmarks/README.md``).

Scope (the model id)
    Entries live in ``<cache dir>/<model-id>/`` (the workflow uses
    ``results/cache/<model-id>/``), one directory per model. The model id is a
    BLAKE2b hash of the model's config, every tensor of its ``state_dict``,
    the ``reverse_complement`` flag, the numeric mode (float32 on CPU,
    bfloat16 autocast on CUDA, as :func:`ntpipe.infer.predict_windows` runs
    it) and the source of the code a cached value comes from
    (``ntpipe/model.py``, ``infer.py``, ``encoding.py``, ``cache.py``: after an
    upgrade of any, nothing cached before is served; ``rm -r results/cache``
    reclaims its space). Different weights,
    settings, precisions or code never share entries;
    retraining one mark leaves the others' entries valid. ``model.json`` in
    each directory says which model it is (for people, not read back).

Guarantee
    A track predicted with the cache equals the track predicted without it
    up to float32 rounding: the cached value of a window is what the same
    model computed for the same bases, but in a different batch, and on CPU
    the batch composition can change the last bits of a float32 result
    (oneDNN picks its blocking by batch shape). ``tests/test_cache.py``
    checks ``|with - without| <= 1e-6`` on probabilities; on the simulated
    panels the largest difference measured was 6e-8 (not bitwise equal). On
    a GPU (bf16 autocast) the rounding is coarser and can move with the batch
    shape too, by up to ~1e-3.

On disk
    20 bytes per entry and model (16-byte key + one float32 probability),
    in ``.npy`` shard files of a packed record array (``hi``, ``lo``: the key
    as two little-endian uint64; ``p``: float32). A 373 Mb genome at stride
    100 is 3.7 M windows, so at most 75 MB per variety and mark, and much less
    for every further variety, whose windows are mostly cached already.

Many jobs at once (Snakemake, locally or on SLURM)
    No two processes ever write one file. Each job writes the entries it
    computed to its own shard, named ``<host>.<pid>.<uuid>.npy``, first under
    ``<name>.tmp`` and renamed when complete (after ``fsync``), so a job
    killed mid-write leaves at most a ``*.tmp`` that is never read (a later
    job just recomputes those windows). On open a job loads the index from
    every complete shard (``*.npy``) and ignores ``*.tmp``; a shard that
    vanishes or cannot be read is skipped with a warning. Jobs running at the
    same time do not see each other's new entries and may both compute a
    window: that costs time, never correctness (duplicate keys are merged on
    load). Shards are written when ``flush_every`` new entries pile up and when
    the cache closes (also on an exception; a SIGKILL loses only the
    unflushed part). :func:`compact` merges a model's shards into one (written
    and renamed before the old ones are removed, so readers see the entries
    throughout).

Memory
    A job holds its model's whole index in memory (20 bytes per entry plus
    the sort), fine up to some 10^8 entries; compact now and then so a job
    opens few files.

Turning it off
    ``prediction: {cache: false}`` in ``config/config.yaml`` (the workflow
    then passes no cache directory), or leave out ``--cache`` of
    ``ntpipe predict``. Deleting ``results/cache`` is always safe.

Logging
    Every :meth:`WindowCache.predict` call (one chromosome in
    :func:`ntpipe.predict.predict_genome`) logs its windows, cache hits,
    misses and the fraction of windows that reached the model; closing the
    cache logs the same for the whole genome (the record carries the numbers
    as ``record.cache_stats``).
"""

import hashlib
import json
import logging
import os
import socket
import sys
import uuid
from dataclasses import asdict, is_dataclass
from pathlib import Path

import numpy as np
import torch

from .files import atomic_path, source_digest
from .infer import predict_windows

__all__ = ["WindowCache", "window_keys", "model_id", "compact", "ENTRY_DTYPE"]

log = logging.getLogger(__name__)

FORMAT = "ntpipe-window-cache"
VERSION = 1
ENTRY_DTYPE = np.dtype([("hi", "<u8"), ("lo", "<u8"), ("p", "<f4")])  # packed: 20 bytes
_EMPTY = np.empty(0, dtype=ENTRY_DTYPE)


def window_keys(padded, starts, size):
    """128-bit BLAKE2b keys of the windows ``padded[s:s+size]``.

    Returns
    -------
    uint64 array (len(starts), 2): each row is one digest as two
    little-endian words.
    """
    padded = np.ascontiguousarray(padded, dtype=np.uint8)
    starts = np.asarray(starts, dtype=np.int64)
    if len(starts) and (starts.min() < 0 or starts.max() + size > len(padded)):
        raise ValueError(f"window starts must lie in [0, {len(padded) - size}], got {starts.min()}..{starts.max()}")
    view = memoryview(padded)
    blake = hashlib.blake2b
    digests = b"".join([blake(view[s : s + size], digest_size=16).digest() for s in starts.tolist()])
    return np.frombuffer(digests, dtype="<u8").reshape(-1, 2)


def _tensor_bytes(t):
    return t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def _weights_digest(model):
    """Hash of a model's config and every tensor of its state_dict."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{FORMAT}/{VERSION}\n".encode())
    cfg = getattr(model, "cfg", None)
    cfg = asdict(cfg) if is_dataclass(cfg) else cfg
    h.update(json.dumps(cfg, sort_keys=True, default=str).encode())
    for name, t in sorted(getattr(model, "_orig_mod", model).state_dict().items()):
        h.update(f"\n{name}:{t.dtype}:{tuple(t.shape)}\n".encode())
        h.update(_tensor_bytes(t))
    return h.hexdigest()


def _precision(device):
    # what ntpipe.infer.predict_windows runs: bf16 autocast on CUDA, float32 elsewhere
    return "bfloat16-autocast" if torch.device(device).type == "cuda" else "float32"


def model_id(model, reverse_complement=False, device="cpu", _digest=None):
    """The cache scope of one model: 32 hex digits.

    Changes with the model's config, any weight, ``reverse_complement``, the
    numeric mode of ``device`` (float32 on CPU, bfloat16 autocast on CUDA) and
    the code a cached value comes from (:func:`_inference_code`).
    """
    digest = _digest or _weights_digest(model)
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{digest}|rc={bool(reverse_complement)}|{_precision(device)}|{_inference_code()}".encode())
    return h.hexdigest()


def _inference_code():
    """The digest of the code a window's probability comes from: an upgrade of it starts the cache afresh."""
    from . import encoding, infer, model

    return source_digest(model, infer, encoding, sys.modules[__name__])


def _unique_rows(keys):
    """``(first, inverse)``: index of the first occurrence of each distinct
    key row, and for every row the position of its key in ``keys[first]``."""
    order = np.lexsort((keys[:, 1], keys[:, 0]))  # stable: first occurrence first
    k = keys[order]
    new = np.ones(len(k), dtype=bool)
    new[1:] = (k[1:, 0] != k[:-1, 0]) | (k[1:, 1] != k[:-1, 1])
    inverse = np.empty(len(k), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse


class _Index:
    """Entries sorted by (hi, lo), distinct keys, looked up with searchsorted."""

    def __init__(self, entries=_EMPTY):
        entries = np.asarray(entries, dtype=ENTRY_DTYPE)
        first, _ = _unique_rows(np.stack([entries["hi"], entries["lo"]], axis=1))  # sorted by (hi, lo)
        e = entries[first]
        self.hi, self.lo, self.p = (np.ascontiguousarray(e[f]) for f in ("hi", "lo", "p"))

    def __len__(self):
        return len(self.hi)

    def entries(self):
        e = np.empty(len(self), dtype=ENTRY_DTYPE)
        e["hi"], e["lo"], e["p"] = self.hi, self.lo, self.p
        return e

    def lookup(self, keys):
        """``(found, values)`` for key rows (values are 0 where not found)."""
        found = np.zeros(len(keys), dtype=bool)
        values = np.zeros(len(keys), dtype=np.float32)
        if not len(self) or not len(keys):
            return found, values
        qh, ql = keys[:, 0], keys[:, 1]
        left = np.searchsorted(self.hi, qh, "left")
        right = np.searchsorted(self.hi, qh, "right")
        single = np.flatnonzero(right - left == 1)
        match = self.lo[left[single]] == ql[single]
        found[single[match]] = True
        values[single[match]] = self.p[left[single[match]]]
        for i in np.flatnonzero(right - left > 1):  # keys sharing their first 64 bits: resolve on the rest
            a, b = left[i], right[i]
            j = a + np.searchsorted(self.lo[a:b], ql[i])
            if j < b and self.lo[j] == ql[i]:
                found[i], values[i] = True, self.p[j]
        return found, values


def _shards(directory):
    return sorted(Path(directory).glob("*.npy"))


def _read_shard(path):
    try:
        entries = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return None  # removed by a compaction since it was listed: its entries are in the merged shard
    except (OSError, ValueError) as err:
        log.warning("window cache: skipping unreadable shard %s (%s)", path, err)
        return None
    if entries.dtype != ENTRY_DTYPE or entries.ndim != 1:
        log.warning("window cache: skipping %s: not a shard of this format (dtype %s)", path, entries.dtype)
        return None
    return entries


def _write_shard(directory, entries):
    """Write ``entries`` to a new uniquely named shard, atomically; return its path."""
    path = Path(directory) / f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex}.npy"
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(entries, dtype=ENTRY_DTYPE), allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())
    return path


def _write_json(path, obj):
    if path.exists():
        return
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


class _Store:
    """One model's entries: the shards on disk plus what this job added."""

    def __init__(self, directory, flush_every):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        shards = [e for e in map(_read_shard, _shards(self.directory)) if e is not None]
        self.base = _Index(np.concatenate(shards) if shards else _EMPTY)
        self.n_shards = len(shards)
        self.new = _Index()
        self.pending = []
        self.n_pending = 0
        self.flush_every = flush_every
        self.written = []

    def lookup(self, keys):
        found, values = self.base.lookup(keys)
        if len(self.new) and not found.all():
            rest = np.flatnonzero(~found)
            f2, v2 = self.new.lookup(keys[rest])
            found[rest[f2]] = True
            values[rest[f2]] = v2[f2]
        return found, values

    def add(self, keys, values):
        e = np.empty(len(keys), dtype=ENTRY_DTYPE)
        e["hi"], e["lo"], e["p"] = keys[:, 0], keys[:, 1], values
        self.new = _Index(np.concatenate([self.new.entries(), e]))
        self.pending.append(e)
        self.n_pending += len(e)
        if self.n_pending >= self.flush_every:
            self.flush()

    def flush(self):
        if not self.n_pending:
            return
        path = _write_shard(self.directory, np.concatenate(self.pending))
        log.debug("window cache: wrote %d entries to %s", self.n_pending, path)
        self.written.append(path)
        self.pending, self.n_pending = [], 0


def compact(directory):
    """Merge the shards of a model directory (or of every model directory
    under a cache root) into one shard each.

    The merged shard is complete on disk (temporary name, then rename) before
    the shards it replaces are removed, so a concurrent reader sees every
    entry at all times (perhaps twice: duplicates are merged on load).
    Shards written after the listing are left alone.

    Returns
    -------
    list of the merged shard paths.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"window cache directory not found: {directory}")
    dirs = [directory] if _shards(directory) or (directory / "model.json").exists() else sorted(
        d for d in directory.iterdir() if d.is_dir()
    )
    merged = []
    for d in dirs:
        paths = _shards(d)
        if len(paths) < 2:
            continue
        read = [(p, e) for p in paths if (e := _read_shard(p)) is not None]
        index = _Index(np.concatenate([e for _, e in read]) if read else _EMPTY)
        out = _write_shard(d, index.entries())
        for p, _ in read:
            p.unlink(missing_ok=True)
        log.info("window cache: merged %d shards of %s into %s (%d entries)", len(read), d, out.name, len(index))
        merged.append(out)
    return merged


class WindowCache:
    """Predict each distinct window once, across runs and jobs.

    Use as a context manager: entries computed in the ``with`` block are
    written to this job's shard(s) when it closes.

    Parameters
    ----------
    directory : cache root, e.g. ``results/cache``; each model gets
        ``directory/<model-id>/`` (see :func:`model_id`).
    models : the loaded models (one per mark), as passed to
        :func:`ntpipe.infer.predict_windows`.
    marks : their names (for logs and ``model.json``).
    flush_every : write a shard whenever this many new entries of one model
        are pending (bounds what a killed job loses).

    Examples
    --------
    >>> with WindowCache("results/cache", nets, marks) as cache:  # doctest: +SKIP
    ...     probs = cache.predict(padded, starts, 1000, 256, device, False, None)
    """

    def __init__(self, directory, models, marks, flush_every=1_000_000):
        models = list(models)
        marks = [str(m) for m in marks]
        if len(models) != len(marks):
            raise ValueError(f"WindowCache needs one mark name per model, got {len(models)} models and {len(marks)} marks")
        if flush_every < 1:
            raise ValueError(f"flush_every must be positive, got {flush_every!r}")
        self.directory = Path(directory)
        self.models, self.marks = models, marks
        self.flush_every = int(flush_every)
        self._digests = [_weights_digest(m) for m in models]
        self._stores = {}
        self._calls = 0
        self.stats = {"windows": 0, "hits": 0, "misses": 0, "model_windows": 0}

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def _store(self, m, reverse_complement, device):
        key = (m, bool(reverse_complement), _precision(device))
        if key not in self._stores:
            mid = model_id(self.models[m], reverse_complement, device, _digest=self._digests[m])
            store = _Store(self.directory / mid, self.flush_every)
            cfg = getattr(self.models[m], "cfg", None)
            _write_json(store.directory / "model.json", {
                "format": FORMAT, "version": VERSION, "model_id": mid, "mark": self.marks[m],
                "weights_digest": self._digests[m], "model_config": asdict(cfg) if is_dataclass(cfg) else cfg,
                "reverse_complement": bool(reverse_complement), "precision": _precision(device),
                "entry_bytes": ENTRY_DTYPE.itemsize,
            })
            log.info("window cache for %s: %s (%d entries in %d shards)", self.marks[m], store.directory, len(store.base), store.n_shards)
            self._stores[key] = store
        return self._stores[key]

    def predict(self, padded, starts, size, batch_size=None, device=torch.device("cpu"), reverse_complement=False,
                progress=None, label=None):
        """Like :func:`ntpipe.infer.predict_windows`, through the cache; ``label`` names the
        windows in the log line (a chromosome; else the call's number).

        Hashes every window, looks the keys up, predicts the distinct missing
        windows once (all models that miss them, in one
        :func:`~ntpipe.infer.predict_windows` call on ``padded`` itself),
        fills in and remembers the new entries.

        Returns
        -------
        float32 array (len(models), len(starts)).
        """
        device = torch.device(device)
        starts = np.asarray(starts, dtype=np.int64)
        n, n_models = len(starts), len(self.models)
        out = np.empty((n_models, n), dtype=np.float32)
        if n == 0:
            return out
        keys = window_keys(padded, starts, size)
        first, inverse = _unique_rows(keys)
        distinct = keys[first]
        values = np.empty((n_models, len(distinct)), dtype=np.float32)
        need = np.zeros((n_models, len(distinct)), dtype=bool)
        stores = [self._store(m, reverse_complement, device) for m in range(n_models)]
        for m, store in enumerate(stores):
            found, values[m] = store.lookup(distinct)
            need[m] = ~found
        todo = np.flatnonzero(need.any(axis=0))
        if len(todo):
            run = [m for m in range(n_models) if need[m, todo].any()]
            probs = predict_windows([self.models[m] for m in run], padded, starts[first[todo]], size, batch_size,
                                    device, reverse_complement, progress)
            for row, m in enumerate(run):
                sel = need[m, todo]
                values[m, todo[sel]] = probs[row, sel]
                stores[m].add(distinct[todo[sel]], probs[row, sel])
        if progress is not None:
            progress.update(n - len(todo))
        out[:] = values[:, inverse]
        missed = need.any(axis=0)[inverse]
        call = {"windows": n, "hits": int(n - missed.sum()), "misses": int(missed.sum()), "model_windows": len(todo)}
        for k, v in call.items():
            self.stats[k] += v
        self._calls += 1
        log.info("window cache, %s: %d windows, %d cache hits, %d misses (%d distinct) -> %.1f%% reached the model",
                 label or f"call {self._calls}", n, call["hits"], call["misses"], len(todo), 100 * len(todo) / n, extra={"cache_stats": call})
        return out

    @property
    def model_fraction(self):
        """Fraction of the windows seen so far that reached the model."""
        return self.stats["model_windows"] / max(self.stats["windows"], 1)

    def flush(self):
        """Write pending entries to new shards now."""
        for store in self._stores.values():
            store.flush()

    def close(self):
        """Write pending entries and log the totals for the genome."""
        self.flush()
        s = dict(self.stats, model_fraction=self.model_fraction,
                 shards_written=[str(p) for st in self._stores.values() for p in st.written])
        if s["windows"]:
            log.info("window cache, genome: %d windows, %d cache hits, %d misses, %d predicted -> %.1f%% reached the model",
                     s["windows"], s["hits"], s["misses"], s["model_windows"], 100 * s["model_fraction"],
                     extra={"cache_stats": s})

    def compact(self):
        """Merge the shards of every model this cache opened (see :func:`compact`)."""
        self.flush()
        return [p for store in self._stores.values() for p in compact(store.directory)]
