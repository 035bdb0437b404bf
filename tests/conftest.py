"""Shared fixtures: one test-scale simulated panel per session, one torch thread,
and a tiny model factory."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tiny models run fastest on one thread, and two threads on a busy 2-core machine slow down many-fold."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def test_panel(tmp_path_factory):
    """Path of a test-scale panel (seed 1) simulated once per session; treat as read-only."""
    from ntpipe.simulate import simulate

    return simulate(tmp_path_factory.mktemp("panel") / "sim", seed=1, scale="test")


def tiny_model(directory, mark="H3K4me3", seed=0, size=200, stride=50):
    """A random-init tiny model saved as an ntpipe model.pt: ``(path, model)``."""
    from ntpipe.config import model_config
    from ntpipe.model import NucleicTransformer, save_model

    torch.manual_seed(seed)
    cfg = model_config("small", d_model=16, n_heads=2, d_ff=32, n_layers=1, pool=2)
    model = NucleicTransformer(cfg).eval()
    path = directory / f"{mark}-{seed}.pt"
    save_model(path, model, cfg, {"mark": mark, "window": size, "stride": stride})
    return path, model
