"""Shared fixtures: one test-scale simulated panel per session."""

import pytest


@pytest.fixture(scope="session")
def test_panel(tmp_path_factory):
    """Path of a test-scale panel (seed 1) simulated once per session; treat as read-only."""
    from ntpipe.simulate import simulate

    return simulate(tmp_path_factory.mktemp("panel") / "sim", seed=1, scale="test")
