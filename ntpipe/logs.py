"""Logging set-up shared by the command line and the Snakemake scripts."""

import logging
import signal
import sys
import threading
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
    _exit_on_sigterm()
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def _exit_on_sigterm():
    """Turn SIGTERM into SystemExit, so that ``finally`` blocks and context managers run.

    SLURM ends a job at its time limit or on ``scancel`` with SIGTERM (SIGKILL follows KillWait seconds later),
    and Snakemake stops its local jobs the same way. Python's default action ends the process at once, leaving
    the temporary file of an atomic write (``ntpipe.files.atomic_path``) beside its target for good.
    """
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return  # someone chose already

    def _raise(signum, frame):
        log = logging.getLogger("ntpipe")
        log.error("stopped by SIGTERM (a time limit, scancel, or Snakemake stopping its jobs)")
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _raise)
