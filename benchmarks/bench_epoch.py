#!/usr/bin/env python
"""Time rbm's training step against a plain numpy loop of the same algorithm, in one run.

The workload is the tutorial's: minibatches of 20 rows of 784 binary pixels,
500 hidden units, PCD-15 with the pseudo-likelihood monitored, learning rate
0.1. Each implementation runs the same number of minibatches after a warm-up;
seconds per epoch are extrapolated to the tutorial's 2,500 minibatches. The
numpy loop samples as ``uniform < p`` in the same float type. Ratios < 1 mean
rbm is faster. PCD-1 is also compared with scikit-learn's BernoulliRBM when it
is installed (``pip install 'rbm[bench]'``).

    python benchmarks/bench_epoch.py [--batches 200] [--modes cpu NUMBA CVM] [--dtypes float32 float64]
                                     [--batches-per-call 1 50]
"""
import argparse
import importlib.util
import time
import warnings

import numpy as np
from scipy.special import expit

import rbm

N_VISIBLE, N_HIDDEN, BATCH, EPOCH_BATCHES = 784, 500, 20, 2500


def synthetic_data(n_rows, seed=0):
    """Binary rows with MNIST's density of lit pixels (about 13%)."""
    return (np.random.default_rng(seed).random((n_rows, N_VISIBLE)) < 0.13).astype(np.float64)


def initial_params(dtype, seed=1234):
    bound = 4 * np.sqrt(6.0 / (N_HIDDEN + N_VISIBLE))
    W = np.random.RandomState(seed).uniform(-bound, bound, (N_VISIBLE, N_HIDDEN)).astype(dtype)
    return W, np.zeros(N_HIDDEN, dtype), np.zeros(N_VISIBLE, dtype)


def softplus(x):
    return np.logaddexp(0, x)


def numpy_training(data, dtype, k, n_batches, lr=0.1, seed=0):
    """PCD-k with pseudo-likelihood monitoring, written directly in numpy."""
    X = data.astype(dtype)
    W, hbias, vbias = initial_params(dtype)
    rng = np.random.default_rng(seed)
    chain = np.zeros((BATCH, N_HIDDEN), dtype)
    lr = dtype(lr)
    bit = 0
    start = time.perf_counter()
    for index in range(n_batches):
        v0 = X[index * BATCH:(index + 1) * BATCH]
        h = chain
        for _ in range(k):
            pv = expit(h @ W.T + vbias)
            v = (rng.random(pv.shape, dtype=dtype) < pv).astype(dtype)
            ph = expit(v @ W + hbias)
            h = (rng.random(ph.shape, dtype=dtype) < ph).astype(dtype)
        chain = h
        ph0 = expit(v0 @ W + hbias)
        # pseudo-likelihood of bit `bit`, as the library monitors it
        xi = np.round(v0)
        flipped = xi.copy()
        flipped[:, bit] = 1 - flipped[:, bit]
        fe = -xi @ vbias - softplus(xi @ W + hbias).sum(1)
        fe_flip = -flipped @ vbias - softplus(flipped @ W + hbias).sum(1)
        cost = -N_VISIBLE * softplus(fe - fe_flip).mean()
        bit = (bit + 1) % N_VISIBLE
        W += lr * (v0.T @ ph0 - v.T @ ph) / BATCH
        hbias += lr * (ph0.mean(0) - ph.mean(0))
        vbias += lr * (v0.mean(0) - v.mean(0))
    return time.perf_counter() - start, float(cost)


def rbm_runner(data, dtype, k, n_batches, mode, batches_per_call=None):
    """A compiled rbm Trainer on the same workload; returns (compile seconds, run-once callable)."""
    model = rbm.RBM(n_visible=N_VISIBLE, n_hidden=N_HIDDEN, numpy_rng=np.random.RandomState(1234),
                    seed=0, dtype=dtype)
    trainer = rbm.Trainer(model, learning_rate=0.1, k=k, persistent=True, batch_size=BATCH, mode=mode, seed=0,
                          batches_per_call=batches_per_call)
    start = time.perf_counter()
    trainer.fit(data[:BATCH * 2], epochs=1, verbose=False)  # compiles, then runs two minibatches
    compile_seconds = time.perf_counter() - start

    def run():
        trainer.fit(data[:BATCH * n_batches], epochs=1, verbose=False)
        return trainer.history[-1]["time"], trainer.history[-1]["cost"]

    return compile_seconds, run


def rbm_label(mode, k, per_call):
    """The table's name for an rbm entry, e.g. ``rbm cpu PCD-15, 50 minibatches/call``."""
    return f"rbm {mode} PCD-{k}" + ("" if per_call is None else f", {per_call} minibatches/call")


def sklearn_runner(data, n_batches):
    from sklearn.neural_network import BernoulliRBM

    def run():
        model = BernoulliRBM(n_components=N_HIDDEN, learning_rate=0.1, batch_size=BATCH, n_iter=1,
                             random_state=0)
        start = time.perf_counter()
        model.fit(data[:BATCH * n_batches])
        return time.perf_counter() - start, None

    return None, run


def numpy_runner(data, dtype, k, n_batches):
    numpy_training(data, np.dtype(dtype).type, k, 5)  # warm-up
    return None, lambda: numpy_training(data, np.dtype(dtype).type, k, n_batches)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=200, help="minibatches timed per implementation")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each, interleaved; the best counts")
    parser.add_argument("--k", type=int, default=15)
    parser.add_argument("--modes", nargs="+", default=["cpu", "NUMBA", "CVM"],
                        help="rbm modes: \"cpu\" (JAX on the CPU), \"gpu\" or PyTensor mode names")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--batches-per-call", nargs="+", type=int, default=[None],
                        help="rbm Trainer's batches_per_call values to time (default: the library's choice)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # PyTensor's note about BLAS in CVM mode would clutter the table
    data = synthetic_data(BATCH * args.batches)
    # (name, dtype, baseline key, (compile seconds, runner))
    entries = []
    for dtype in args.dtypes:
        entries.append((f"numpy loop PCD-{args.k}", dtype, ("numpy", dtype),
                        numpy_runner(data, dtype, args.k, args.batches)))
    for mode in args.modes:
        for dtype in args.dtypes:
            for per_call in args.batches_per_call:
                entries.append((rbm_label(mode, args.k, per_call), dtype, ("numpy", dtype),
                                rbm_runner(data, dtype, args.k, args.batches, mode, per_call)))
    if importlib.util.find_spec("sklearn") is not None and args.modes:
        entries.append(("scikit-learn BernoulliRBM PCD-1", "float64", ("sklearn", None),
                        sklearn_runner(data, args.batches)))
        per_call = args.batches_per_call[-1]
        entries.append((rbm_label(args.modes[0], 1, per_call), "float32", ("sklearn", None),
                        rbm_runner(data, "float32", 1, args.batches, args.modes[0], per_call)))
    best = {}
    for _ in range(args.repeats):  # interleaved, so a noisy moment hits every entry alike
        for index, (_, _, _, (_, run)) in enumerate(entries):
            seconds, cost = run()
            if index not in best or seconds < best[index][0]:
                best[index] = (seconds, cost)
    baselines = {("numpy", dtype): best[i][0] for i, e in enumerate(entries) for dtype in [e[1]]
                 if e[0].startswith("numpy")}
    baselines[("sklearn", None)] = next((best[i][0] for i, e in enumerate(entries)
                                         if e[0].startswith("scikit")), None)
    scale = EPOCH_BATCHES / args.batches
    print(f"\n{args.batches} minibatches of {BATCH} x {N_VISIBLE}, {N_HIDDEN} hidden, best of {args.repeats} "
          f"interleaved runs, extrapolated to {EPOCH_BATCHES} minibatches (one tutorial epoch); "
          f"JAX devices: {device_note()}")
    print("| implementation | dtype | s/epoch | ratio to baseline | first compile + 2 steps (s) |")
    print("|---|---|---|---|---|")
    for index, (name, dtype, baseline, (compile_seconds, _)) in enumerate(entries):
        seconds = best[index][0]
        compile_text = "" if compile_seconds is None else f"{compile_seconds:.1f}"
        print(f"| {name} | {dtype} | {seconds * scale:.1f} | {seconds / baselines[baseline]:.2f} | {compile_text} |")
    print("baseline: the numpy loop of the same dtype (for PCD-1: scikit-learn's PCD-1)")


def device_note():
    import jax

    return ", ".join(sorted({d.platform for d in jax.devices()}))


if __name__ == "__main__":
    main()
