"""Logging set-up shared by the command line and the Snakemake scripts."""

import logging
import sys
import warnings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(path=None, verbose=False):
    """Log to stderr, or to ``path`` (a Snakemake rule's log: stderr is sent there too)."""
    if path is not None:
        sys.stderr = open(path, "w", buffering=1)  # noqa: SIM115 - lives as long as the job
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=FORMAT, stream=sys.stderr, force=True)
    logging.captureWarnings(True)
    warnings.simplefilter("default")
