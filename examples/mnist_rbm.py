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
from rbm.datasets import load_mnist
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
          f"lr {args.lr}, batch {args.batch_size}, {args.n_hidden} hidden, mode {args.mode}, {args.dtype}")

    model = rbm.RBM(n_visible=train_X.shape[1], n_hidden=args.n_hidden,
                    numpy_rng=np.random.RandomState(args.seed), seed=args.seed, dtype=args.dtype)
    trainer = rbm.Trainer(model, learning_rate=args.lr, k=args.k, persistent=not args.cd,
                          batch_size=args.batch_size, mode=args.mode, seed=args.seed)

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
    return history


if __name__ == "__main__":
    main()
