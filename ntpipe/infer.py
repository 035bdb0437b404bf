"""Batched inference: windows of an encoded chromosome to probabilities.

The chromosome goes to the device once (uint8); each batch is gathered there
from window start offsets with ``unfold`` (a view) and one index, so the host
only ships a vector of offsets per batch. Every model (one per mark) runs on
the same batch: one pass over the genome for all marks. On CPU, batches run
concurrently on one worker thread per torch thread, each op single-threaded:
the small model's ops are too small to split well across cores (measured in
benchmarks/). Never writes files.
"""

import ctypes
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from tqdm import tqdm

log = logging.getLogger(__name__)

__all__ = ["predict_windows", "default_batch_size", "keep_freed_memory"]
CPU_BATCH_BASES = 64_000  # bases per batch and worker thread on CPU: activations stay in cache (benchmarks/)
CUDA_BATCH = 256


def _reverse_complement(tokens):
    # A,C,G,T,N = 0..4: complement is 3 - x for bases, N stays N
    return torch.where(tokens < 4, 3 - tokens, tokens).flip(-1)


_allocator_tuned = False


def keep_freed_memory():
    """Let glibc keep freed memory for reuse instead of giving it back to the OS.

    Every batch allocates the same few-MB tensors again. By default glibc maps
    such blocks fresh from the OS and returns them when freed, so each batch
    pays thousands of page faults (the small model: ~1,400 per forward pass of
    16 windows; throughput +39% without them, benchmarks/README.md). Fixed
    thresholds keep freed memory in the process: its RSS stays at its peak.
    Process-wide and glibc only (a no-op elsewhere); the engine calls it once
    on CPU.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return
    _allocator_tuned = True
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        log.debug("no libc.so.6: allocator left as it is")
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's mallopt parameter numbers
    # 32 MiB: the largest mmap threshold every 64-bit glibc accepts; batches allocate far less
    if not (libc.mallopt(m_mmap_threshold, 32 << 20) and libc.mallopt(m_trim_threshold, 1 << 30)):
        log.debug("mallopt refused: allocator left as it is")


def default_batch_size(device, size):
    """Windows per batch when none is given: CUDA_BATCH on a GPU; on CPU about
    CPU_BATCH_BASES bases (64 windows of 1 kb, 320 of 200 bp)."""
    return CUDA_BATCH if torch.device(device).type == "cuda" else max(1, CPU_BATCH_BASES // size)


def predict_windows(models, padded, starts, size, batch_size=None, device=torch.device("cpu"),
                    reverse_complement=False, progress=None, workers=None):
    """Probabilities of every model for the windows ``padded[s:s+size]``.

    Parameters
    ----------
    models : list of torch modules mapping (B, size) tokens to (B,) logits.
    padded : uint8 array, one N-padded chromosome (or consensus).
    starts : int64 array of window start offsets into ``padded``.
    size : window length.
    batch_size : windows per batch (None: :func:`default_batch_size`).
    device : torch.device the models are on.
    reverse_complement : average each window's probability with its reverse complement's.
    progress : an open tqdm bar to advance (optional).
    workers : CPU only: batches run at once, each on one thread (default: torch's
        thread count). Values equal a sequential run's up to float32 rounding.

    Returns
    -------
    float32 array (len(models), len(starts)).
    """
    if len(starts) == 0:
        return np.empty((len(models), 0), dtype=np.float32)
    cuda = device.type == "cuda"
    batch_size = batch_size or default_batch_size(device, size)
    if not cuda:
        keep_freed_memory()
    sequence = torch.from_numpy(np.ascontiguousarray(padded))
    if cuda:
        sequence = sequence.pin_memory()
    sequence = sequence.to(device, non_blocking=True)
    views = sequence.unfold(0, size, 1)  # (len - size + 1, size), a view
    offsets = torch.from_numpy(np.asarray(starts, dtype=np.int64)).to(device, non_blocking=True)
    results = torch.empty((len(models), len(starts)), dtype=torch.float32, device=device)

    def run_batch(lo):
        # inference_mode and autocast are thread-local: entered in the thread that runs the batch
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            tokens = views[offsets[lo : lo + batch_size]].long()  # (B, size)
            for m, model in enumerate(models):
                prob = torch.sigmoid(model(tokens).float())
                if reverse_complement:
                    prob = (prob + torch.sigmoid(model(_reverse_complement(tokens)).float())) / 2
                results[m, lo : lo + len(tokens)] = prob
        return len(tokens)

    batches = range(0, len(starts), batch_size)
    workers = 1 if cuda else min(workers or torch.get_num_threads(), len(batches))
    if workers == 1:
        done = map(run_batch, batches)
    else:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # process-wide: restored below
        pool = ThreadPoolExecutor(workers, thread_name_prefix="ntpipe-infer")
        done = pool.map(run_batch, batches)
    try:
        for n in done:
            if progress is not None:
                progress.update(n)
    finally:
        if workers > 1:
            pool.shutdown(cancel_futures=True)
            torch.set_num_threads(threads)
    return results.cpu().numpy()


class Throughput:
    """A tqdm bar over windows that logs windows/s when closed."""

    def __init__(self, total, desc):
        # disable=None: no bar without a terminal (a Snakemake log); the count below is kept either way
        self.bar = tqdm(total=total, desc=desc, unit="win", unit_scale=True, mininterval=2, leave=False, disable=None)
        self.start = time.perf_counter()
        self.desc = desc
        self.total = total
        self.n = 0

    def update(self, n):
        self.n += n
        self.bar.update(n)

    def close(self):
        n, elapsed = self.n, time.perf_counter() - self.start
        self.bar.close()
        if self.total is not None and n < self.total:  # closed by an error or a signal on the way out
            log.info("%s: stopped after %d of %d windows, %.1f s", self.desc, n, self.total, elapsed)
        else:
            log.info("%s: %d windows in %.1f s (%.0f windows/s)", self.desc, n, elapsed, n / max(elapsed, 1e-9))
        return n / max(elapsed, 1e-9)
