"""The peers' side of the issue "Speed", on this machine: the same workloads at the same sizes,
with NumPy (hand-written backprop) and PyTorch (eager autograd, gradcheck), so that their figures
and `gradverify bench`'s can be taken side by side, in the same spell of a noisy machine.

    pip install numpy torch        # whichever you want measured; a missing one is skipped
    python3 benches/peers.py       # one JSON object per line, as `gradverify bench --json`

The network is Eq. 33 with D0 = D1 = D2 = D, D3 = D/4, float64. Each figure is the median of
repeated runs after a warm-up, over at least 0.5 s.
"""

import json
import statistics
import time


def median_time(run, at_least=0.5):
    run()
    times = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < at_least:
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def report(peer, name, batch, width, seconds):
    print(json.dumps({"peer": peer, "name": name, "B": batch, "D": width, "median_s": seconds}), flush=True)


def network(np, batch, width):
    rng = np.random.default_rng(2026)
    widths = [width, width, width, max(width // 4, 1)]
    params = []
    for d_in, d_out in zip(widths, widths[1:]):
        params += [rng.standard_normal((d_in, d_out)) / np.sqrt(d_in), rng.standard_normal(d_out)]
    x = rng.standard_normal((batch, widths[0]))
    y = rng.standard_normal((batch, widths[3]))
    return params, x, y


def numpy_figures():
    import numpy as np

    def forward_backward(w1, b1, w2, b2, w3, b3, x, y):
        a1 = x @ w1 + b1
        h1 = np.maximum(a1, 0.0)
        a2 = h1 @ w2 + b2
        h2 = np.maximum(a2, 0.0)
        r = h2 @ w3 + b3 - y
        loss = 0.5 * np.sum(r * r)
        dh2 = r @ w3.T
        da2 = dh2 * (a2 > 0)
        dh1 = da2 @ w2.T
        da1 = dh1 * (a1 > 0)
        grads = (x.T @ da1, da1.sum(0), h1.T @ da2, da2.sum(0), h2.T @ r, r.sum(0))
        return loss, grads

    for batch, width in [(32, 64), (256, 1024)]:
        params, x, y = network(np, batch, width)
        seconds = median_time(lambda: forward_backward(*params, x, y))
        report("numpy", "forward_backward", batch, width, seconds)


def torch_figures():
    import numpy as np
    import torch

    torch.set_default_dtype(torch.float64)

    def loss_of(w1, b1, w2, b2, w3, b3, x, y):
        h1 = torch.relu(x @ w1 + b1)
        h2 = torch.relu(h1 @ w2 + b2)
        return 0.5 * torch.sum((h2 @ w3 + b3 - y) ** 2)

    def tensors(batch, width):
        params, x, y = network(np, batch, width)
        params = [torch.tensor(p, requires_grad=True) for p in params]
        return params, torch.tensor(x), torch.tensor(y)

    for batch, width in [(32, 64), (256, 1024)]:
        params, x, y = tensors(batch, width)

        def step():
            for p in params:
                p.grad = None
            loss_of(*params, x, y).backward()

        report("torch", "forward_backward", batch, width, median_time(step))

    params, x, y = tensors(16, 64)
    full = median_time(lambda: torch.autograd.gradcheck(lambda *p: loss_of(*p, x, y), params), at_least=2.0)
    report("torch", "full_check", 16, 64, full)
    fast = median_time(lambda: torch.autograd.gradcheck(lambda *p: loss_of(*p, x, y), params, fast_mode=True))
    report("torch", "projection_check", 16, 64, fast)


if __name__ == "__main__":
    for figures in (numpy_figures, torch_figures):
        try:
            figures()
        except ImportError as missing:
            print(json.dumps({"skipped": str(missing)}), flush=True)
