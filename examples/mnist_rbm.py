#!/usr/bin/env python
"""Train an RBM on MNIST the way the Theano tutorial does, then draw samples.

Defaults reproduce the tutorial: PCD-15, learning rate 0.1, minibatches of 20,
15 epochs, 500 hidden units; then 20 persistent chains started from test
digits, 10 samples kept every 1,000 Gibbs steps. Writes
``filters_at_epoch_N.png``, ``samples.png`` and ``model.npz`` into ``--out``.
"""
import argparse
import os
import sys
import time

import numpy as np

import rbm
from rbm import evaluation
from rbm.datasets import binarize, load_mnist
from rbm.images import save_image, tile_raster_images


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=positive_int, default=15)
    parser.add_argument("--batch-size", type=positive_int, default=20)
    parser.add_argument("--k", type=positive_int, default=15, help="Gibbs steps per update")
    parser.add_argument("--cd", action="store_true", help="CD-k instead of persistent CD-k")
    parser.add_argument("--lr", type=positive_float, default=0.1, help="learning rate")
    parser.add_argument("--n-hidden", type=positive_int, default=500)
    parser.add_argument("--momentum", type=float, default=0.0)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--init", choices=("tutorial", "hinton"), default="tutorial",
                        help="tutorial: W uniform, zero biases; hinton: W ~ N(0, 0.01^2), "
                             "visible biases from pixel means (Hinton's practical guide)")
    parser.add_argument("--subset", type=positive_int, default=None,
                        help="train on the first N training rows only")
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--mode", default="cpu", help="'cpu', 'gpu' or a PyTensor mode name")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--binarize", choices=("threshold", "stochastic"), default=None,
                        help="binarise the pixels (the tutorial trains on grey levels)")
    parser.add_argument("--data-dir", default=None,
                        help="folder holding the four MNIST .gz files or mnist.pkl.gz "
                             "(default: download into $RBM_DATA_DIR or ~/.cache/rbm)")
    parser.add_argument("--out", default="rbm_plots", help="folder for the PNGs and model.npz")
    parser.add_argument("--n-chains", type=positive_int, default=20)
    parser.add_argument("--n-samples", type=positive_int, default=10)
    parser.add_argument("--plot-every", type=positive_int, default=1000)
    parser.add_argument("--ais", action="store_true",
                        help="after training, estimate log Z by AIS and print train/test log-likelihood")
    parser.add_argument("--ais-runs", type=positive_int, default=100)
    parser.add_argument("--ais-betas", type=positive_int, default=None,
                        help="number of evenly spaced temperatures (default: the paper's 14,501)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    try:
        mnist = load_mnist(args.data_dir, binarize_method=args.binarize, seed=args.seed)
    except (OSError, ValueError) as error:
        sys.exit(f"error: {error}")
    train_X = mnist.train.X[: args.subset] if args.subset else mnist.train.X
    test_X = mnist.test.X
    print(f"MNIST: {len(train_X)} training rows, {'CD' if args.cd else 'PCD'}-{args.k}, "
          f"lr {args.lr}, batch {args.batch_size}, momentum {args.momentum}, weight decay {args.weight_decay}, "
          f"{args.n_hidden} hidden, {args.init} init, mode {args.mode}, {args.dtype}"
          f"{', binarised ' + args.binarize if args.binarize else ''}")

    try:
        if args.init == "hinton":
            model = rbm.RBM.from_data(train_X, n_hidden=args.n_hidden, numpy_rng=args.seed,
                                      seed=args.seed, dtype=args.dtype)
        else:
            model = rbm.RBM(n_visible=train_X.shape[1], n_hidden=args.n_hidden,
                            numpy_rng=np.random.RandomState(args.seed), seed=args.seed, dtype=args.dtype)
        trainer = rbm.Trainer(model, learning_rate=args.lr, k=args.k, persistent=not args.cd,
                              batch_size=args.batch_size, momentum=args.momentum,
                              weight_decay=args.weight_decay, mode=args.mode, seed=args.seed)
    except (ValueError, TypeError, ImportError, RuntimeError) as error:
        sys.exit(f"error: {error}")

    def plot_filters(trainer, record):
        tiles = tile_raster_images(model.W.get_value(borrow=True).T, img_shape=(28, 28),
                                   tile_shape=(10, 10), tile_spacing=(1, 1))
        save_image(tiles, os.path.join(args.out, f"filters_at_epoch_{record['epoch']}.png"))

    start = time.perf_counter()
    history = trainer.fit(train_X, epochs=args.epochs, callbacks=[plot_filters])
    training_time = time.perf_counter() - start
    print(f"training took {training_time / 60:.2f} minutes "
          f"({sum(r['time'] for r in history):.1f} s in epochs)")

    # Chains start from evenly spaced test digits, as in the tutorial.
    rng = np.random.RandomState(args.seed)
    n_chains = min(args.n_chains, len(test_X))
    first = rng.randint(len(test_X) - n_chains + 1)
    start = time.perf_counter()
    samples = rbm.sample_chains(model, test_X[first:first + n_chains], n_samples=args.n_samples,
                                plot_every=args.plot_every, mode=args.mode, seed=args.seed)
    print(f"sampling took {time.perf_counter() - start:.1f} s")
    tiles = tile_raster_images(samples.reshape(-1, samples.shape[-1]), img_shape=(28, 28),
                               tile_shape=(args.n_samples, n_chains), tile_spacing=(1, 1),
                               scale_rows_to_unit_interval=False)
    save_image(tiles, os.path.join(args.out, "samples.png"))
    model.save(os.path.join(args.out, "model.npz"))
    print(f"wrote filters_at_epoch_*.png, samples.png and model.npz to {args.out}")
    if args.ais:
        report_likelihood(model, train_X, test_X, args)
    return history


def report_likelihood(model, train_X, test_X, args):
    """AIS estimate of log Z, then the average log-probability of train and test digits."""
    betas = None if args.ais_betas is None else np.linspace(0.0, 1.0, max(args.ais_betas, 2))
    result = evaluation.ais_log_partition(model, n_runs=max(args.ais_runs, 2), betas=betas,
                                          base_rate=train_X, seed=args.seed, mode=args.mode)
    print(f"AIS: log Z = {result.log_z:.2f} (+-3 sd: {result.log_z_low:.2f} .. {result.log_z_high:.2f}), "
          f"{result.n_runs} runs, {result.n_betas} temperatures, {result.seconds:.1f} s")
    if args.binarize is None:
        # log p(v) is a probability only for binary v: score a seeded stochastic binarisation.
        print("scoring stochastically binarised copies of the grey-level digits")
        train_X = binarize(train_X, "stochastic", seed=args.seed)
        test_X = binarize(test_X, "stochastic", seed=args.seed + 1)
    train_ll = evaluation.mean_log_likelihood(model, train_X, result.log_z)
    test_ll = evaluation.mean_log_likelihood(model, test_X, result.log_z)
    print(f"average log-likelihood: train {train_ll:.2f} nats, test {test_ll:.2f} nats")


if __name__ == "__main__":
    main()
