#!/usr/bin/env python
"""Train 784-500 binary RBMs on binarised MNIST with several methods for the same epochs; bracket each.

For each method: the training time, log Z by AIS (100 runs, 14,501
temperatures), train and test log-likelihood from it (errs high), and the
conservative RAISE figure (200 random test digits, 5,000 temperatures; the
full-test value is AIS's plus the mean RAISE - AIS difference on those digits).
The "Methods compared" table of the docs' Results page (docs/results.rst) comes from this script.

    python benchmarks/compare_methods.py --data-dir ../shared/data/mnist --epochs 30
"""
import argparse
import time

import numpy as np

import rbm
from rbm import evaluation
from rbm.datasets import load_mnist

#: name -> Trainer settings (all: k=1, minibatches of 100, learning rate 0.01, Hinton's initialisation)
METHODS = {
    "CD-1": dict(persistent=False),
    "PCD-1": dict(n_chains=100),
    "centered PCD-1": dict(n_chains=100, centering=True),
    "centered PT-1 (beta 0.6, 0.7, 0.8, 0.9, 1)": dict(n_chains=100, centering=True,
                                                      tempering=[0.6, 0.7, 0.8, 0.9, 1.0]),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--binarize", choices=("threshold", "stochastic"), default="threshold")
    parser.add_argument("--mode", default="cpu")
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS), default=list(METHODS))
    args = parser.parse_args()
    mnist = load_mnist(args.data_dir, binarize_method=args.binarize, seed=123)
    train_X, test_X = mnist.train.X.astype(np.float32), mnist.test.X.astype(np.float32)
    print(f"# {args.binarize} binarisation, {args.epochs} epochs, batch 100, lr 0.01, mode {args.mode}, float32",
          flush=True)
    for name in args.methods:
        model = rbm.RBM.from_data(train_X, n_hidden=500, numpy_rng=1, seed=1, dtype="float32")
        trainer = rbm.Trainer(model, learning_rate=0.01, k=1, batch_size=100, mode=args.mode, seed=1,
                              **METHODS[name])
        start = time.perf_counter()
        history = trainer.fit(train_X, epochs=args.epochs, verbose=False)
        minutes = (time.perf_counter() - start) / 60
        ais = evaluation.ais_log_partition(model, n_runs=100, base_rate=train_X, seed=1, mode=args.mode)
        test_ll = evaluation.mean_log_likelihood(model, test_X, ais.log_z)
        rows = np.random.default_rng(0).permutation(len(test_X))[:200]
        raised = evaluation.raise_log_likelihood(model, test_X[rows], betas=np.linspace(0, 1, 5000),
                                                 base_rate=train_X, seed=1, mode=args.mode)
        differences = raised.per_row - (-evaluation.free_energy(model, test_X[rows]) - ais.log_z)
        swaps = (f"; swap rates {np.round(history[-1]['swap_rates'], 2).tolist()}"
                 if "swap_rates" in history[-1] else "")
        print(f"{name}: training {minutes:.1f} min; AIS log Z {ais.log_z:.2f} [{ais.log_z_low:.2f}, "
              f"{ais.log_z_high:.2f}]; train {evaluation.mean_log_likelihood(model, train_X, ais.log_z):.2f}; "
              f"test: RAISE {test_ll + differences.mean():.2f} "
              f"(+-{differences.std(ddof=1) / np.sqrt(len(rows)):.2f}) .. AIS {test_ll:.2f}{swaps}", flush=True)


if __name__ == "__main__":
    main()
