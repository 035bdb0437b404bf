"""Predict a genome: every chromosome tiled into bins, one bigWig per model.

A genome given as FASTA is predicted on its own coordinates. With a VCF, the
variety's own sequence is predicted on the genome's (reference's)
coordinates: each reference bin's window holds the variety's sequence around
that position (:func:`ntpipe.variants.variety_windows`). Chromosomes are
streamed one at a time, so memory follows the largest chromosome, not the
genome.
"""

import logging
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import numpy as np

from .bigwig import BigWigWriter
from .encoding import called_bins, n_bins, pad_for_bins
from .genome import chrom_sizes, encode_chrom, open_fasta
from .infer import Throughput, predict_windows

log = logging.getLogger(__name__)

__all__ = ["load_models", "by_window", "predict_genome", "chromosome_windows"]


def load_models(paths, device, window=None, stride=None):
    """Load mark models and check each against its window (``window``, the config's: bp, or bp by mark).

    A model of the workflow knows its window and stride; one that ``ntpipe
    train`` fitted on a table knows its window only where every sequence had
    one length, and no stride: ``window`` and ``stride`` give them. The marks
    may read windows of different sizes (``window.mark_sizes``); they share
    the stride, so their tracks have the same bins.

    Returns ``(names, models, sizes, stride)``; a model's name is its mark
    (from its metadata, else its directory name), its size the window it reads.
    """
    from .model import load_model, min_length

    names, models, sizes = [], [], []
    loaded = [load_model(path, device=device) for path in paths]  # in eval mode
    stride = stride or next((m["stride"] for _, _, m in loaded if m and m.get("stride")), None)
    for path, (model, cfg, meta) in zip(paths, loaded):
        meta = meta or {}
        name = str(meta.get("mark") or Path(path).parent.name)
        asked = window.get(name) if isinstance(window, dict) else window
        own = int(meta["window"]) if meta.get("window") else None
        if own is not None and asked is not None and own != int(asked):
            raise ValueError(f"{path}: model was trained on {own} bp windows but {asked} bp were asked for (the config's"
                             " window.size or window.mark_sizes, or --window)")
        size = own or asked
        if size is None:
            lengths = meta.get("lengths")
            trained = f"sequences of {lengths[0]}-{lengths[1]} bp" if lengths else "sequences of several lengths"
            raise ValueError(f"{path}: the model was trained on {trained}, not on windows of one size: give the window"
                             " to cut around each bin (ntpipe predict --window BP)")
        if not min_length(cfg) <= int(size) <= cfg.max_len:
            raise ValueError(f"{path}: a window of {size} bp is outside what the model reads ({min_length(cfg)}-{cfg.max_len} bp)")
        if not stride:
            raise ValueError(f"{path}: the model has no bin size (stride) in its metadata, as one trained on a table:"
                             " give one (ntpipe predict --stride BP)")
        names.append(name)
        models.append(model)
        sizes.append(int(size))
    if len(set(names)) != len(names):
        raise ValueError(f"two models have the same mark name: {names}")
    return names, models, sizes, int(stride)


def by_window(sizes):
    """``{size: [model index, ...]}``: the models that read windows of each size, in order of first use."""
    groups = {}
    for i, size in enumerate(sizes):
        groups.setdefault(size, []).append(i)
    return groups


def chromosome_windows(tokens, size, stride, variants=None):
    """``(padded, starts)`` of one chromosome's bins: see :mod:`ntpipe.encoding` and :mod:`ntpipe.variants`."""
    if variants is not None:
        from .variants import variety_windows

        return variety_windows(tokens, variants, size, stride)
    padded = pad_for_bins(tokens, size, stride)
    return padded, np.arange(n_bins(len(tokens), stride), dtype=np.int64) * stride


def predict_genome(models, genome, out, vcf=None, sample=None, store=None, stride=None, window=None, batch_size=None,
                   device="auto", reverse_complement=False, cache=None, max_n_fraction=0.5, names=None,
                   chrom_aliases=False):
    """Predict every bin of ``genome`` with every model; write ``out/{mark}.bw``.

    Parameters
    ----------
    models : paths of model.pt files (one per mark).
    genome : FASTA; the tracks are on its coordinates.
    out : output directory.
    vcf, sample : apply this variety's variants (tracks stay on ``genome``'s coordinates).
    store : instead of ``vcf``, the variants store the VCF was extracted into
        (:mod:`ntpipe.vcfstore`): the sample's variants are memory-mapped, not parsed.
    stride : bin size (default: the models').
    window : window size, bp or bp by mark: a model trained on windows of another size is an error
        (the config's); needed for a model trained on a table of sequences of several lengths. Models
        of different window sizes each get their own windows, around the same bins.
    batch_size, device, reverse_complement : inference settings.
    cache : directory of the window cache, or None.
    max_n_fraction : bins whose window has more N get no value.
    names : check that the models' marks are exactly these.
    chrom_aliases : with ``vcf``, match its chromosome names to ``genome``'s across
        namings (``Chr1``, ``chr01``, ``chr1``, ``1``; :mod:`ntpipe.chroms`).

    Returns
    -------
    dict mark -> path of the bigWig written.
    """
    from .device import resolve_device

    device = resolve_device(device)
    with ExitStack() as stack:
        fasta = open_fasta(genome)  # opened once: sizes, the VCF's REF check and the sequences
        stack.callback(fasta.close)
        sizes = chrom_sizes(fasta)
        marks, nets, windows, stride = load_models(models, device, window=window, stride=stride)
        groups = by_window(windows)
        if names is not None and sorted(names) != sorted(marks):
            raise ValueError(f"models are for marks {marks}, expected {sorted(names)}")
        variants = None  # read and checked completely before any output
        if store:
            from .vcfstore import load_variants

            variants = load_variants(store, sample, fasta)
        elif vcf:
            from .variants import read_variants

            variants = read_variants(vcf, sample, fasta, aliases=chrom_aliases)
        out = Path(out)
        if not out.exists():  # made here: removed again if nothing was written into it (a FASTA that fails to encode)
            out.mkdir(parents=True)
            stack.callback(lambda: None if any(out.iterdir()) else out.rmdir())
        paths = {m: out / f"{m}.bw" for m in marks}
        total = len(groups) * sum(n_bins(n, stride) for _, n in sizes)
        bar = Throughput(total, f"predict {Path(genome).name}" + (f" + {sample or Path(store or vcf).name}" if variants else ""))
        stack.callback(bar.close)
        writers = [stack.enter_context(BigWigWriter(paths[m], sizes)) for m in marks]
        if cache:
            from .cache import WindowCache

            cached = {size: stack.enter_context(WindowCache(cache, [nets[i] for i in idx], [marks[i] for i in idx]))
                      for size, idx in groups.items()}
        for chrom, _length in sizes:
            chrom_variants = variants.get(chrom) if variants is not None else None
            tokens = encode_chrom(fasta, chrom)
            for size, idx in groups.items():  # the models of one window size at once
                predict = (partial(cached[size].predict, label=chrom) if cache
                           else partial(predict_windows, [nets[i] for i in idx]))
                padded, starts = chromosome_windows(tokens, size, stride, chrom_variants)
                called = called_bins(tokens, size, stride, max_n_fraction)
                probs = np.zeros((len(idx), len(starts)), dtype=np.float32)
                probs[:, called] = predict(padded, starts[called], size, batch_size, device, reverse_complement, bar)
                bar.update(int((~called).sum()))
                for i, p in zip(idx, probs):
                    writers[i].add_bins(chrom, p, called, stride)
    return paths
