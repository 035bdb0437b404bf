"""Training on the CPU: one job on every core, or one job per core side by side?

    python benchmarks/cpu_training.py [--cores 2] [--steps 30]

Times training steps of the demo's model (the small preset, 2 kb windows
pooled by 20, batches of 32) in fresh processes: one job on ``--cores``
threads, then ``--cores`` one-thread jobs at once, and prints the steps per
second of the machine in each layout (median step time, first steps left out)
and their ratio. The workflow trains the marks side by side on the CPU
(workflow/rules/common.smk) because of this ratio.
"""

import argparse
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def steps(threads, n, size=2000, batch=32):
    """Median seconds per training step of the demo's model on ``threads`` threads."""
    import torch

    from ntpipe.config import model_config
    from ntpipe.model import from_config

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = from_config(model_config("small", dropout=0.0, pool=20))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    tokens = torch.randint(0, 4, (batch, size))
    target = torch.rand(batch)
    times = []
    for _ in range(n + 5):
        start = time.perf_counter()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(tokens).reshape(-1), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[5:])


def _in_fresh_processes(jobs, threads, n):
    """Seconds per step of ``jobs`` training jobs run at once, each in a new interpreter on ``threads`` threads."""
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        return [f.result() for f in [pool.submit(steps, threads, n) for _ in range(jobs)]]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--steps", type=int, default=30)
    args = p.parse_args(argv)
    (one,) = _in_fresh_processes(1, args.cores, args.steps)
    side = _in_fresh_processes(args.cores, 1, args.steps)
    one_rate, side_rate = 1 / one, sum(1 / s for s in side)
    print(f"one job on {args.cores} threads: {one * 1000:.0f} ms/step, {one_rate:.1f} steps/s")
    print(f"{args.cores} one-thread jobs at once: {', '.join(f'{s * 1000:.0f}' for s in side)} ms/step, "
          f"{side_rate:.1f} steps/s in all")
    print(f"side by side / one job: {side_rate / one_rate:.2f}x")


if __name__ == "__main__":
    main()
