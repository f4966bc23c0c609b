"""The peers' side of the issue "Speed", on this machine: the same workloads at the same sizes,
with NumPy (hand-written backprop) and PyTorch (eager autograd, gradcheck), so that their figures
and `gradverify bench`'s can be taken side by side, in the same spell of a noisy machine.

    pip install numpy torch        # whichever you want measured; a missing one is skipped
    python3 benches/peers.py       # one JSON object per line, as `gradverify bench --json`
    python3 benches/peers.py --ratios [--turns 3] [--peak 90] [--course]
                                   # gradverify and the peers in alternating turns, and the ratios;
                                   # --course adds gradcheck on conv2d and batchnorm (issue 20)

The network is Eq. 33 with D0 = D1 = D2 = D, D3 = D/4, float64. Each figure is the median of
repeated runs after a warm-up, over at least 0.5 s.

With --ratios, each turn runs `gradverify bench --json` (target/release/gradverify, or --gradverify
PATH), then NumPy and PyTorch each in a process of its own, NumPy with OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE unset in that process alone (they slow a current OpenBLAS; see the machine notes),
so that every ratio is taken in the same spell of a shared machine. It prints each turn's ratios
(peer time over gradverify's: above 1 is gradverify faster), then each ratio's median and range
over the turns, against the targets of issue 14. --peak takes the machine's peak GFLOP/s on every
core (`cargo bench --bench peak`) to give the share of it reached at B=256, D=1024.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
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

    def loss_of(w1, b1, w2, b2, w3, b3, x, y):
        h2 = np.maximum(np.maximum(x @ w1 + b1, 0.0) @ w2 + b2, 0.0)
        r = h2 @ w3 + b3 - y
        return 0.5 * np.sum(r * r)

    def full_check(params, x, y, h=1e-5):
        """The CS231n loop: a central difference of every parameter element, each from two
        forward passes, against the backprop gradients (relative error below 1e-6)."""
        _, grads = forward_backward(*params, x, y)
        worst = 0.0
        for p, g in zip(params, grads):
            for i in np.ndindex(p.shape):
                old = p[i]
                p[i] = old + h
                up = loss_of(*params, x, y)
                p[i] = old - h
                down = loss_of(*params, x, y)
                p[i] = old
                fd = (up - down) / (2 * h)
                worst = max(worst, abs(fd - g[i]) / max(abs(fd), abs(g[i]), 1e-8))
        return worst

    params, x, y = network(np, 16, 64)
    report("numpy", "full_check", 16, 64, median_time(lambda: full_check(params, x, y), at_least=2.0))


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


def torch_course_figures():
    """gradcheck on the course ops of gradverify's full_check_conv2d and full_check_batchnorm:
    the same op at the same sizes, every input differentiated. The batchnorm check takes about a
    minute and a half here, so it is timed once, without a warm-up."""
    import torch
    import torch.nn.functional as F

    torch.set_default_dtype(torch.float64)
    gen = torch.Generator().manual_seed(2026)
    normal = lambda *shape: torch.randn(*shape, generator=gen).requires_grad_()
    conv = [normal(2, 3, 8, 8), normal(4, 3, 3, 3), normal(4)]
    check_conv = lambda: torch.autograd.gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1), conv)
    report("torch", "full_check_conv2d", 2, 8, median_time(check_conv, at_least=2.0))
    norm = [normal(64, 256), normal(256), normal(256)]
    batch_norm = lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True, eps=1e-5)
    start = time.perf_counter()
    assert torch.autograd.gradcheck(batch_norm, norm)
    report("torch", "full_check_batchnorm", 64, 256, time.perf_counter() - start)


def blas_of_numpy():
    """Which BLAS kernel NumPy runs, where threadpoolctl is installed."""
    try:
        import numpy  # noqa: F401 -- loads the BLAS that threadpoolctl then finds
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [{k: v for k, v in pool.items() if k in ("internal_api", "version", "architecture", "num_threads")}
            for pool in threadpool_info() if pool.get("user_api") == "blas"]


def peer(name):
    figures = {"numpy": numpy_figures, "torch": torch_figures, "torch-course": torch_course_figures}[name]
    try:
        if name == "numpy":
            print(json.dumps({"peer": "numpy", "blas": blas_of_numpy()}), flush=True)
        figures()
    except ImportError as missing:
        print(json.dumps({"skipped": str(missing)}), flush=True)


def json_lines(command, env=None):
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def one_turn(gradverify, course):
    """gradverify's figures, then each peer's in a process of its own, NumPy's with the
    OpenBLAS overrides unset (with `course`, also gradcheck on the course ops):
    {(who, name, B, D): seconds}, and NumPy's BLAS."""
    figures = {}
    for f in json_lines([gradverify, "bench", "--json"]):
        figures[("gradverify", f["name"], f["B"], f["D"])] = f["median_s"]
        if "over_random" in f:
            figures[("gradverify", "kinks/random", f["B"], f["D"])] = f["over_random"]
    blas = None
    for name in ("numpy", "torch") + (("torch-course",) if course else ()):
        env = dict(os.environ)
        if name == "numpy":
            env.pop("OPENBLAS_CORETYPE", None)
            env.pop("OPENBLAS_L2_SIZE", None)
        for f in json_lines([sys.executable, __file__, "--peer", name], env=env):
            if "blas" in f:
                blas = f["blas"]
            elif "median_s" in f:
                figures[(f["peer"], f["name"], f["B"], f["D"])] = f["median_s"]
    return figures, blas


def ratios(figures, peak):
    """Peer time over gradverify's time for each target of issue 14 (None where a peer is
    missing), the kinks/random ratio, and the share of the peak at B=256, D=1024."""
    ours = lambda name, b, d: figures.get(("gradverify", name, b, d))
    theirs = lambda who, name, b, d: figures.get((who, name, b, d))
    over = lambda peer_s, our_s: None if peer_s is None or our_s is None else peer_s / our_s
    big = [t for t in (theirs("numpy", "forward_backward", 256, 1024), theirs("torch", "forward_backward", 256, 1024))
           if t is not None]
    out = {
        "full_check B=16 D=64, NumPy / gradverify (target >= 77)":
            over(theirs("numpy", "full_check", 16, 64), ours("full_check", 16, 64)),
        "full_check B=16 D=64, PyTorch gradcheck / gradverify":
            over(theirs("torch", "full_check", 16, 64), ours("full_check", 16, 64)),
        "forward_backward B=32 D=64, NumPy / gradverify (target >= 1.8)":
            over(theirs("numpy", "forward_backward", 32, 64), ours("forward_backward", 32, 64)),
        "forward_backward B=256 D=1024, faster peer / gradverify (target >= 0.95)":
            over(min(big) if big else None, ours("forward_backward", 256, 1024)),
        "full_check_kinks / full_check B=64 D=256 (target <= 3)": ours("kinks/random", 64, 256),
    }
    for name, b, d in (("full_check_conv2d", 2, 8), ("full_check_batchnorm", 64, 256)):
        if theirs("torch", name, b, d) is not None:
            out[f"{name} B={b} D={d}, PyTorch gradcheck / gradverify"] = over(theirs("torch", name, b, d), ours(name, b, d))
    if peak and ours("forward_backward", 256, 1024):
        flops = 3_089_563_648  # the cost models' forward + backward at B=256, D=1024
        out["forward_backward B=256 D=1024, share of the peak"] = flops / ours("forward_backward", 256, 1024) / (peak * 1e9)
    return out


def show(value):
    return "—" if value is None else f"{value:.3g}"


def run_ratios(args):
    turns = []
    for turn in range(args.turns):
        load = os.getloadavg()[0]
        figures, blas = one_turn(args.gradverify, args.course)
        r = ratios(figures, args.peak)
        turns.append(r)
        print(f"turn {turn + 1} (load average {load:.2f} at its start; NumPy's BLAS {json.dumps(blas)})", flush=True)
        for name, value in r.items():
            print(f"  {name}: {show(value)}", flush=True)
        times = [f"{who} {name} B={b} D={d} {figures[(who, name, b, d)] * 1e3:.3g} ms"
                 for who, name, b, d in sorted(figures)
                 if (name, b, d) in (("full_check", 16, 64), ("forward_backward", 32, 64), ("forward_backward", 256, 1024),
                                     ("full_check_conv2d", 2, 8), ("full_check_batchnorm", 64, 256))]
        print(f"  medians: {'; '.join(times)}", flush=True)
    print(f"over {args.turns} turns: median [min – max]")
    for name in turns[0]:
        values = [t[name] for t in turns if t.get(name) is not None]
        if values:
            print(f"  {name}: {statistics.median(values):.3g} [{min(values):.3g} – {max(values):.3g}]")
        else:
            print(f"  {name}: — (peer not installed)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratios", action="store_true", help="gradverify and the peers in turns, with ratios")
    parser.add_argument("--turns", type=int, default=3, help="turns with --ratios (default 3)")
    parser.add_argument("--gradverify", default="target/release/gradverify", help="the binary to run")
    parser.add_argument("--peak", type=float, help="the peak GFLOP/s on every core (cargo bench --bench peak)")
    parser.add_argument("--course", action="store_true",
                        help="with --ratios, also PyTorch gradcheck on the course ops (about 90 s a turn)")
    parser.add_argument("--peer", choices=["numpy", "torch", "torch-course"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        peer(args.peer)
    elif args.ratios:
        run_ratios(args)
    else:
        for name in ("numpy", "torch") + (("torch-course",) if course else ()):
            peer(name)
