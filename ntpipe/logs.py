"""Logging set-up shared by the command line and the Snakemake scripts."""

import logging
import sys
import warnings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(path=None, verbose=False, threads=None):
    """Log to stderr, or to ``path`` (a Snakemake rule's log: stderr is sent there too).

    ``threads`` caps torch's CPU threads at what the job was given (a Snakemake
    rule's ``threads``), so jobs sharing a node don't oversubscribe it and
    results don't depend on the node's core count.
    """
    if path is not None:
        sys.stderr = open(path, "w", buffering=1)  # noqa: SIM115 - lives as long as the job
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=FORMAT, stream=sys.stderr, force=True)
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
