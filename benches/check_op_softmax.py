"""check_op against torch.autograd.gradcheck on the same function in the same run (issue 21).

The function is a row softmax of a 16x32 float64 matrix, contracted with a fixed cotangent for
check_op (gradcheck forms the whole Jacobian instead). Both check one point, every element, by
finite differences; the turns alternate, and the ratio is gradcheck's median over check_op's.
check_op runs twice a turn: calling the forward on one point at a time, as gradcheck does, and
with vectorized=True (the same softmax called on stacks of points, one call per round of steps).

    python3 benches/check_op_softmax.py            # needs numpy, torch and the gradverify wheel
"""

import argparse
import statistics
import time

import numpy as np
import torch

import gradverify


def softmax(x):
    """Along the last axis: of one point (16, 32), or of a stack of points (P, 16, 32)."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_backward(grad_out, x):
    s = softmax(x)
    return s * (grad_out - (s * grad_out).sum(axis=-1, keepdims=True))


class Counted:
    """The forward, counting its calls."""

    def __init__(self, forward):
        self.forward, self.calls = forward, 0

    def __call__(self, x):
        self.calls += 1
        return self.forward(x)


def timed(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(2)
    x = np.random.default_rng(0).standard_normal((16, 32))
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    forward, stacked = Counted(softmax), Counted(softmax)

    def ours():
        report = gradverify.check_op("softmax", [x.shape], forward, softmax_backward, points=[[x]])
        assert report.passed, report

    def vectorized():
        report = gradverify.check_op(
            "softmax", [x.shape], stacked, softmax_backward, points=[[x]], vectorized=True
        )
        assert report.passed, report

    def theirs():
        assert torch.autograd.gradcheck(lambda t: torch.softmax(t, dim=1), (xt,))

    ours_times, vectorized_times, their_times = [], [], []
    for _ in range(args.turns):
        forward.calls = stacked.calls = 0
        ours_times.append(timed(ours))
        vectorized_times.append(timed(vectorized))
        calls, stacked_calls = forward.calls, stacked.calls
        their_times.append(timed(theirs))
    a, v, b = (statistics.median(t) for t in (ours_times, vectorized_times, their_times))
    print(f"check_op softmax 16x32: {a * 1e3:.2f} ms, {calls} forward calls ({calls / x.size:.3f} per element)")
    print(f"check_op softmax 16x32, vectorized=True: {v * 1e3:.2f} ms, {stacked_calls} forward calls")
    print(f"torch gradcheck softmax 16x32: {b * 1e3:.2f} ms")
    print(f"gradcheck / check_op: {b / a:.2f}; gradcheck / check_op vectorized: {b / v:.2f} (medians of {args.turns} alternating turns)")


if __name__ == "__main__":
    main()
