"""Batched inference: windows of an encoded chromosome to probabilities.

The chromosome goes to the device once (uint8); each batch is gathered there
from window start offsets with ``unfold`` (a view) and one index, so the host
only ships a vector of offsets per batch. Every model (one per mark) runs on
the same batch: one pass over the genome for all marks. Never writes files.
"""

import logging
import time

import numpy as np
import torch
from tqdm import tqdm

log = logging.getLogger(__name__)

__all__ = ["predict_windows"]


def _reverse_complement(tokens):
    # A,C,G,T,N = 0..4: complement is 3 - x for bases, N stays N
    return torch.where(tokens < 4, 3 - tokens, tokens).flip(-1)


def predict_windows(models, padded, starts, size, batch_size=256, device=torch.device("cpu"),
                    reverse_complement=False, progress=None):
    """Probabilities of every model for the windows ``padded[s:s+size]``.

    Parameters
    ----------
    models : list of torch modules mapping (B, size) tokens to (B,) logits.
    padded : uint8 array, one N-padded chromosome (or consensus).
    starts : int64 array of window start offsets into ``padded``.
    size : window length.
    batch_size : windows per batch.
    device : torch.device the models are on.
    reverse_complement : average each window's probability with its reverse complement's.
    progress : an open tqdm bar to advance (optional).

    Returns
    -------
    float32 array (len(models), len(starts)).
    """
    if len(starts) == 0:
        return np.empty((len(models), 0), dtype=np.float32)
    cuda = device.type == "cuda"
    sequence = torch.from_numpy(np.ascontiguousarray(padded))
    if cuda:
        sequence = sequence.pin_memory()
    sequence = sequence.to(device, non_blocking=True)
    views = sequence.unfold(0, size, 1)  # (len - size + 1, size), a view
    offsets = torch.from_numpy(np.asarray(starts, dtype=np.int64)).to(device, non_blocking=True)
    results = torch.empty((len(models), len(starts)), dtype=torch.float32, device=device)
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
        for lo in range(0, len(starts), batch_size):
            tokens = views[offsets[lo : lo + batch_size]].long()  # (B, size)
            for m, model in enumerate(models):
                prob = torch.sigmoid(model(tokens).float())
                if reverse_complement:
                    prob = (prob + torch.sigmoid(model(_reverse_complement(tokens)).float())) / 2
                results[m, lo : lo + len(tokens)] = prob
            if progress is not None:
                progress.update(len(tokens))
    return results.cpu().numpy()


class Throughput:
    """A tqdm bar over windows that logs windows/s when closed."""

    def __init__(self, total, desc):
        self.bar = tqdm(total=total, desc=desc, unit="win", unit_scale=True, mininterval=2, leave=False, disable=None)
        self.start = time.perf_counter()
        self.desc = desc

    def update(self, n):
        self.bar.update(n)

    def close(self):
        n, elapsed = self.bar.n, time.perf_counter() - self.start
        self.bar.close()
        log.info("%s: %d windows in %.1f s (%.0f windows/s)", self.desc, n, elapsed, n / max(elapsed, 1e-9))
        return n / max(elapsed, 1e-9)
