"""Pick the torch device: one GPU at most, the first visible one."""

import logging
import os
from pathlib import Path

__all__ = ["nvidia_gpu_visible", "resolve_device"]

log = logging.getLogger(__name__)


def resolve_device(spec="auto"):
    """Resolve a device spec to a :class:`torch.device`.

    Parameters
    ----------
    spec : str or torch.device
        ``"auto"`` takes ``cuda`` (``cuda:0``, the first *visible* GPU, i.e. the
        one SLURM / ``CUDA_VISIBLE_DEVICES`` gives the job; never several) when
        one is visible, else the CPU. ``"cpu"``, ``"cuda"`` or ``"cuda:N"``
        ask for that device.

    Raises
    ------
    ValueError when CUDA is asked for but no CUDA device is visible, or the
    spec is not a device.
    """
    import torch  # here, so that the workflow's start-up can import this module without torch

    if isinstance(spec, torch.device):
        spec = str(spec)
    spec = "auto" if spec is None else str(spec).strip().lower()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")
    has_cuda = torch.cuda.is_available()
    if spec == "auto":
        if has_cuda:
            device = torch.device("cuda", 0)
            log.info("using CUDA device %s (%s; CUDA_VISIBLE_DEVICES=%s)", device, torch.cuda.get_device_name(0), visible)
        else:
            device = torch.device("cpu")
            log.info("no CUDA device visible (CUDA_VISIBLE_DEVICES=%s): running on CPU", visible)
        return device
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ValueError(f"not a device: {spec!r} (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda":
        if not has_cuda:
            raise ValueError(f"device {spec!r} asked for, but no CUDA device is visible (CUDA_VISIBLE_DEVICES={visible})")
        index = 0 if device.index is None else device.index
        if index >= torch.cuda.device_count():
            raise ValueError(f"device {spec!r} asked for, but only {torch.cuda.device_count()} CUDA device(s) are visible")
        device = torch.device("cuda", index)
    elif device.type != "cpu":
        raise ValueError(f"unsupported device {spec!r} (use auto, cpu, cuda or cuda:N)")
    log.info("running on %s", device)
    return device


def nvidia_gpu_visible():
    """Whether this machine shows CUDA an NVIDIA GPU, read from /dev and /proc without torch (the workflow's start-up).

    ``CUDA_VISIBLE_DEVICES`` set empty or to -1 hides them, as it does from torch. /dev/dxg is WSL2's GPU.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    return any(Path(p).exists() for p in ("/dev/nvidia0", "/dev/dxg")) or any(Path("/proc/driver/nvidia/gpus").glob("*"))
