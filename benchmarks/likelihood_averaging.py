#!/usr/bin/env python
"""Train the likelihood preset's recipe once and score the last parameters and the means of several windows.

How the averaging windows of ``Trainer(average_last_epochs=N)`` were chosen: a
784-H binary RBM is trained with centered PCD-1 (100 chains, minibatches of
100, learning rate --lr decaying linearly to 0, Hinton's initialisation) on
stochastically binarised MNIST, keeping the running sums of each epoch's
parameters for every window; then AIS (100 runs, the 14,501 default
temperatures) scores the last parameters and the mean over each window. One
training run serves every window, so their differences are not training noise.
Results: ``benchmarks/results/likelihood_try_averaging.txt``.

    python benchmarks/likelihood_averaging.py --data-dir ../shared/data/mnist --weight-decay 0.0002 --windows 5,15,40
"""
import argparse
import time

import numpy as np

import rbm
from rbm import evaluation
from rbm.datasets import load_mnist
from rbm.training import schedules
from rbm.training.averaging import ParameterAverage


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--lr", type=float, default=0.04)
    parser.add_argument("--epochs", type=int, default=270)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--n-hidden", type=int, default=500)
    parser.add_argument("--windows", default="5,15,40", help="comma-separated numbers of last epochs to average")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    mnist = load_mnist(args.data_dir, binarize_method="stochastic", seed=args.seed)
    train_X, test_X = mnist.train.X, mnist.test.X
    model = rbm.RBM.from_data(train_X, n_hidden=args.n_hidden, numpy_rng=args.seed, seed=args.seed, dtype="float32")
    trainer = rbm.Trainer(model, learning_rate=schedules.linear(args.lr, 0.0, args.epochs), k=1, batch_size=100,
                          n_chains=100, centering=True, weight_decay=args.weight_decay, seed=args.seed)
    averages = {}
    for window in sorted({int(w) for w in args.windows.split(",")}):
        averages[window] = ParameterAverage(window)
        averages[window].start(args.epochs)

    def add(trainer, record):
        for average in averages.values():
            average.add(record["epoch"], [param.get_value() for param in model.params])

    start = time.perf_counter()
    trainer.fit(train_X, epochs=args.epochs, callbacks=[add])
    print(f"training {(time.perf_counter() - start) / 60:.2f} min", flush=True)
    candidates = {"last parameters": [param.get_value() for param in model.params]}
    candidates.update({f"mean of the last {w} epochs": average.mean() for w, average in averages.items()})
    for name, params in candidates.items():
        scored = rbm.RBM(n_visible=model.n_visible, n_hidden=model.n_hidden, dtype="float32",
                         **{p.name: np.asarray(v, dtype="float32") for p, v in zip(model.params, params)})
        result = evaluation.ais_log_partition(scored, n_runs=100, base_rate=train_X, seed=args.seed)
        print(f"{name}: test {evaluation.mean_log_likelihood(scored, test_X, result.log_z):.2f}, train "
              f"{evaluation.mean_log_likelihood(scored, train_X, result.log_z):.2f} nats (log Z {result.log_z:.2f}, "
              f"+-3 sd {result.log_z_low:.2f} .. {result.log_z_high:.2f})", flush=True)


if __name__ == "__main__":
    main()
