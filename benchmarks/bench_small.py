#!/usr/bin/env python
"""Time a small job with rbm's estimators and scikit-learn's ``BernoulliRBM``, side by side on one machine.

The job is scikit-learn's RBM example: ``load_digits`` (1,797 x 64, each feature
scaled to [0, 1]), 100 hidden units, learning rate 0.06, 10 passes, minibatches
of 10. For each estimator (rbm's in each mode asked for, scikit-learn's):

* the first ``fit`` in a fresh process, with the import of the estimator's
  module (``rbm.estimators`` imports JAX or Numba only when a fit needs it;
  scikit-learn's common modules are imported before), then a second fit, of
  ``clone(estimator)``, in that process;
* a ``GridSearchCV`` in a fresh process: the pipeline of scikit-learn's example
  (the RBM, then ``LogisticRegression(C=6000, max_iter=10000)``) over
  10 candidates (learning rate 0.01 .. 0.1 x 50 or 100 hidden units) and 5 folds,
  one job at a time;
* ``python -c 'import rbm'`` (and ``import sklearn.neural_network``), wall clock;
* with ``--parts new``, the first fit in a process of a learning rate, then of a
  number of hidden units, that no compile cache holds (a random value);
* with ``--parts sizes``, the time per minibatch of rbm's modes for models of several
  sizes (random binary rows, PCD-1, float64 as the estimators train; the best of
  three fits after a first one), the measurement behind ``mode="auto"``'s rule
  (:func:`rbm.estimators.automatic_mode`).

Each measurement runs in its own subprocess, so no estimator profits from
another's imports or compiled code; the disk caches (JAX's compiled code in
``rbm.backend.get_cache_dir()``, Numba's in PyTensor's compile folder) are
whatever they hold, so the first of the repeats may fill them (``--empty-cache``
gives every run empty ones instead). Times are the best of the repeats, which run
interleaved; ratios are rbm's time over scikit-learn's (< 1: rbm is faster).

BLAS libraries run one thread in each child (``--blas-threads 0`` keeps the
environment's setting): on the 2-core machine shared with other work,
OpenBLAS's threads waiting for a core made one ``LogisticRegression`` fit of the
grid search 7.7 s instead of 0.09 s, which swamped every other time.

    python benchmarks/bench_small.py [--quick] [--parts fits grid import new sizes] [--modes cpu NUMBA]
                                     [--repeats 2] [--grid-repeats 1] [--empty-cache] [--blas-threads 1]

``--quick``: one repeat, a grid of 2 candidates x 2 folds, imports timed once. A mode may name the
estimators' ``batches_per_call`` after a colon: ``--modes NUMBA NUMBA:100``.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

SETTINGS = dict(n_components=100, learning_rate=0.06, n_iter=10, batch_size=10, random_state=0)
GRID = {"rbm__learning_rate": [0.01, 0.02, 0.04, 0.06, 0.1], "rbm__n_components": [50, 100]}
QUICK_GRID = {"rbm__learning_rate": [0.03, 0.06], "rbm__n_components": [100]}
#: (batch_size, n_features, n_components) for --sizes, around the 2**18 of mode="auto"'s rule
SIZES = [(10, 64, 100), (40, 64, 100), (10, 196, 100), (10, 784, 30), (100, 64, 100), (10, 200, 200),
         (10, 784, 100), (10, 784, 500), (100, 784, 500)]
SKLEARN = "sklearn"
PARTS = ("fits", "grid", "import", "sizes", "new")
X_WIDTH = 64  # the digits' features


def digits():
    """scikit-learn's digits, each feature scaled to [0, 1] as in its RBM example, and their labels."""
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import minmax_scale

    data = load_digits()
    return minmax_scale(data.data.astype(np.float64), feature_range=(0, 1)), data.target


def make_estimator(mode):
    """rbm's BernoulliRBM in ``mode``, or scikit-learn's for SKLEARN, with the job's settings."""
    if mode == SKLEARN:
        from sklearn.neural_network import BernoulliRBM

        return BernoulliRBM(**SETTINGS)
    from rbm.estimators import BernoulliRBM

    mode, _, per_call = mode.partition(":")  # "NUMBA:100": batches_per_call=100
    return BernoulliRBM(**SETTINGS, mode=mode, batches_per_call=int(per_call) if per_call else None)


# --------------------------------------------------------------- in the child
def time_fits(mode, change=None):
    """Seconds of the first fit in this process, the estimator's import included, and of a second fit (a clone).

    ``change`` "learning_rate" or "n_components": a value no earlier run used
    (so that no compile cache holds its graph), 0.06 or 100 plus a random bit.
    """
    from sklearn.base import clone

    X, _ = digits()  # scikit-learn's common modules are imported from here on
    unseen = np.random.default_rng().integers(1, 10 ** 6)
    start = time.perf_counter()
    estimator = make_estimator(mode)
    if change == "learning_rate":
        estimator.set_params(learning_rate=0.06 + unseen * 1e-9)
    elif change == "n_components":
        estimator.set_params(n_components=100 + unseen % 7 + 1)  # 101 .. 107
    estimator.fit(X)
    first = time.perf_counter() - start
    start = time.perf_counter()
    clone(estimator).fit(X)
    second = time.perf_counter() - start
    return {"first fit": first, "second fit": second}


def time_grid(mode, quick):
    """Seconds of GridSearchCV over the pipeline of scikit-learn's RBM example, and its best accuracy."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    X, y = digits()
    pipeline = Pipeline([("rbm", make_estimator(mode)),
                         ("logistic", LogisticRegression(C=6000, max_iter=10000))])
    search = GridSearchCV(pipeline, QUICK_GRID if quick else GRID, cv=2 if quick else 5, n_jobs=1)
    start = time.perf_counter()
    search.fit(X, y)
    return {"grid search": time.perf_counter() - start, "best accuracy": float(search.best_score_)}


def time_steps(mode):
    """Milliseconds per minibatch of a fit in ``mode`` for each of SIZES (the best of 3 after a first fit)."""
    from sklearn.base import clone

    milliseconds = {}
    for batch_size, n_features, n_components in SIZES:
        # about a second of work per fit, at least 20 minibatches
        rows = max(20 * batch_size, min(4000, 4e8 // (n_features * n_components)))
        n_batches = int(rows) // batch_size
        X = (np.random.default_rng(0).random((n_batches * batch_size, n_features)) < 0.2).astype(np.float64)
        estimator = make_estimator(mode).set_params(n_components=n_components, batch_size=batch_size, n_iter=1)
        estimator.fit(X)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            clone(estimator).fit(X)
            best = min(best, time.perf_counter() - start)
        milliseconds[f"{batch_size}x{n_features}x{n_components}"] = 1e3 * best / n_batches
    return milliseconds


def sizes_table(steps, modes):
    """Per-minibatch milliseconds by size, a column per mode, and each mode over the first one."""
    lines = ["| batch x features x hidden | product | " + " | ".join(f'"{mode}" (ms)' for mode in modes)
             + " | " + " | ".join(f'"{mode}" / "{modes[0]}"' for mode in modes[1:]) + " |",
             "|---" * (2 + 2 * len(modes) - 1) + "|"]
    for size in steps[modes[0]]:
        product = int(np.prod([int(n) for n in size.split("x")]))
        values = [steps[mode][size] for mode in modes]
        lines.append(f"| {size.replace('x', ' x ')} | {product:,} | " + " | ".join(f"{v:.3f}" for v in values)
                     + " | " + " | ".join(f"{v / values[0]:.2f}" for v in values[1:]) + " |")
    return "\n".join(lines)


# -------------------------------------------------------------- in the parent
def run_child(arguments, environment):
    run = subprocess.run([sys.executable, __file__, *arguments], capture_output=True, text=True, env=environment)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def child_environment(empty_cache, blas_threads):
    """The environment of a child: this one, with BLAS threads limited and new empty compile caches if asked."""
    environment = dict(os.environ)
    if blas_threads:
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            environment[name] = str(blas_threads)
    if empty_cache:
        folder = tempfile.mkdtemp(prefix="bench_small_")
        environment["RBM_CACHE_DIR"] = os.path.join(folder, "rbm")
        flags = environment.get("PYTENSOR_FLAGS", "")
        environment["PYTENSOR_FLAGS"] = ",".join(filter(None, [flags, f"base_compiledir={folder}/pytensor"]))
    return environment


def time_import(statement, repeats):
    """Best wall-clock seconds of ``python -c statement`` (interpreter start included) over ``repeats`` runs."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        best = min(best, time.perf_counter() - start)
    return best


def machine():
    cpus = os.cpu_count()
    try:
        with open("/proc/cpuinfo") as info:
            model = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return f"{platform.node()}: {cpus} CPUs ({model}), Python {platform.python_version()}"


def versions():
    import jax
    import pytensor
    import sklearn

    import rbm

    return f"rbm {rbm.__version__}, PyTensor {pytensor.__version__}, JAX {jax.__version__}, scikit-learn {sklearn.__version__}"


def table(results, modes):
    """The results as a markdown table: a row per measurement, a column per estimator and per ratio."""
    names = [f'rbm "{mode}"' for mode in modes] + ["scikit-learn"]
    keys = modes + [SKLEARN]
    header = "| | " + " | ".join(names) + " | " + " | ".join(f'"{mode}" / sklearn' for mode in modes) + " |"
    lines = [header, "|---" * (1 + len(names) + len(modes)) + "|"]
    labels = {"first fit": "first fit in a process, import included", "second fit": "second fit (a clone)",
              "new learning rate": "first fit, a learning rate not compiled before",
              "new n_components": "first fit, an n_components not compiled before", "grid search": "grid search"}
    for measurement, label in labels.items():
        seconds = [results[key].get(measurement) for key in keys]
        if any(value is None for value in seconds):
            continue
        ratios = [value / seconds[-1] for value in seconds[:-1]]
        lines.append(f"| {label} (s) | " + " | ".join(f"{value:.2f}" for value in seconds) + " | "
                     + " | ".join(f"{ratio:.1f}x" for ratio in ratios) + " |")
    imports = results.get("imports")
    if imports:
        lines.append("| `import rbm` / `import sklearn.neural_network` (s) | "
                     + " | ".join([f"{imports['rbm']:.2f}"] * len(modes)) + f" | {imports['sklearn']:.2f} | "
                     + " | ".join([f"{imports['rbm'] / imports['sklearn']:.1f}x"] * len(modes)) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one repeat, a 2-candidate 2-fold grid")
    parser.add_argument("--parts", nargs="+", default=["fits", "grid", "import"], choices=PARTS,
                        help="what to time (default: fits grid import; sizes: a minibatch by model size)")
    parser.add_argument("--modes", nargs="+", default=["cpu", "NUMBA"], help="rbm's modes to time")
    parser.add_argument("--repeats", type=int, default=None, help="fits, sizes: best of this many (default 2, quick 1)")
    parser.add_argument("--grid-repeats", type=int, default=1, help="grid searches: best of this many")
    parser.add_argument("--empty-cache", action="store_true", help="every child starts with empty compile caches")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="BLAS threads in each child (default 1; 0: the environment's)")
    parser.add_argument("--worker", nargs=2, metavar=("WHAT", "MODE"), help=argparse.SUPPRESS)
    parser.add_argument("--quick-grid", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:  # a child: one measurement, printed as JSON
        what, mode = args.worker
        work = {"fits": lambda: time_fits(mode), "grid": lambda: time_grid(mode, args.quick_grid),
                "steps": lambda: time_steps(mode), "new-lr": lambda: time_fits(mode, "learning_rate"),
                "new-size": lambda: time_fits(mode, "n_components")}[what]
        print(json.dumps(work()))
        return
    repeats = args.repeats or (1 if args.quick else 2)
    keys = args.modes + [SKLEARN]
    results = {key: {} for key in keys}
    accuracies = {}

    def measure(what, key, label):
        extra = ["--quick-grid"] if what == "grid" and args.quick else []
        measured = run_child(["--worker", what, key, *extra], child_environment(args.empty_cache, args.blas_threads))
        print(f"  {label} {key}: " + ", ".join(f"{name} {value:.2f} s" for name, value in measured.items()
                                                if isinstance(value, float) and name != "best accuracy"),
              flush=True)
        return measured

    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {machine()}")
    print(f"# {versions()}")
    print(f"# python {' '.join(['benchmarks/bench_small.py', *(argv if argv is not None else sys.argv[1:])])}")
    threads = f"{args.blas_threads} BLAS thread(s) per child" if args.blas_threads else "the environment's BLAS threads"
    print(f"# {threads}; {'empty' if args.empty_cache else 'existing'} compile caches; "
          f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    for repeat in range(repeats if "fits" in args.parts else 0):
        for key in keys:
            measured = measure("fits", key, f"fits (repeat {repeat + 1})")
            for name in ("first fit", "second fit"):
                results[key][name] = min(results[key].get(name, float("inf")), measured[name])
    for repeat in range(repeats if "new" in args.parts else 0):
        for key in keys:
            for what, name in (("new-lr", "new learning rate"), ("new-size", "new n_components")):
                measured = measure(what, key, f"{what} (repeat {repeat + 1})")
                results[key][name] = min(results[key].get(name, float("inf")), measured["first fit"])
    for repeat in range(args.grid_repeats if "grid" in args.parts else 0):
        for key in keys:
            measured = measure("grid", key, f"grid search (repeat {repeat + 1})")
            results[key]["grid search"] = min(results[key].get("grid search", float("inf")),
                                              measured["grid search"])
            accuracies[key] = measured["best accuracy"]
    import_repeats = 1 if args.quick else 3
    if "import" in args.parts:
        results["imports"] = {"rbm": time_import("import rbm", import_repeats),
                              "sklearn": time_import("import sklearn.neural_network", import_repeats)}
    if set(args.parts) - {"sizes"}:
        grid = QUICK_GRID if args.quick else GRID
        n_candidates = int(np.prod([len(values) for values in grid.values()]))
        print()
        print(f"digits 1797 x 64 in [0, 1], 100 hidden, lr 0.06, 10 passes, batch 10; best of {repeats} (fits), "
              f"{args.grid_repeats} (grid: {n_candidates} candidates x {2 if args.quick else 5} folds), "
              f"{import_repeats} (imports)")
        print(table(results, args.modes))
        from rbm.estimators import automatic_mode

        picked = automatic_mode(SETTINGS["batch_size"], X_WIDTH, SETTINGS["n_components"])
        print(f'mode="auto", the estimators\' default, trains this job with "{picked}"')
        if accuracies:
            print("grid search best accuracy: " + ", ".join(
                f"{'scikit-learn' if key == SKLEARN else key} {accuracy:.4f}" for key, accuracy in accuracies.items()))
    if "sizes" in args.parts:
        steps = {}
        for _ in range(repeats):
            for mode in args.modes:
                measured = run_child(["--worker", "steps", mode], child_environment(args.empty_cache, args.blas_threads))
                steps[mode] = {size: min(value, steps.get(mode, {}).get(size, float("inf")))
                               for size, value in measured.items()}
        print()
        print(f"time per minibatch (PCD-1, float64, random binary rows), best of {3 * repeats} fits")
        print(sizes_table(steps, args.modes))
    print(f"# load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
