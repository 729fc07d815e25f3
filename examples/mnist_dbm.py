#!/usr/bin/env python
"""Train a Deep Boltzmann Machine on stochastically binarised MNIST and report its test log-likelihood bound.

Defaults: a 784-500-1000 DBM (Salakhutdinov & Hinton 2009's MNIST model)
trained from scratch with centering (Melchior, Fischer & Wiskott 2016):
10 mean-field steps for the data statistics, 100 persistent chains moved by
5 Gibbs sweeps per update, minibatches of 100, momentum 0.5 and a learning
rate falling linearly from 0.05 to 0.005 over the run. The digits are binarised by sampling each pixel with its grey
level as probability (Salakhutdinov & Murray 2008). With ``--ais`` the script
estimates log Z by AIS (100 runs over :func:`rbm.evaluation.default_betas`)
and prints the mean-field lower bound on the mean test log-likelihood; with
``--raise-rows N`` it also estimates log p(v) of N test digits from below by
reverse annealing (:func:`rbm.evaluation.raise_log_likelihood`, which takes a
DBM), to bracket that figure.

The default of 40 epochs keeps the default run (``--ais`` included) within
45 minutes on two free CPU cores. Measured on a 2-core machine shared with
other jobs (load ~5.5): an epoch of 10,000 rows took 8.8 s wall, 6.8 s of
process CPU, so 50,000 rows take ~44 s wall (<= 34 s on free cores); AIS over
14,501 temperatures ~4.3 minutes, the two 10,000-row bounds ~2 minutes,
sampling ~0.5 minutes: ~37 minutes in all on the loaded machine. Flags shrink
the run (``--subset 5000 --epochs 4 --ais-betas 2000 --test-rows 2000``).
RAISE costs ~95 microseconds of CPU per digit and temperature for the
784-500-1000 model (measured on this machine, loaded: wall about twice that):
``--raise-rows 300`` over the default 5,000 temperatures ~2.5 minutes of CPU.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

from rbm import dbm_evaluation, evaluation
from rbm.datasets import binarize, load_mnist
from rbm.evaluation import default_betas
from rbm.images import save_image, tile_raster_images
from rbm.models.dbm import DBM
from rbm.models.rbm import visible_bias_from_data
from rbm.training.dbm import DBMTrainer
from rbm.training.dbm_pretraining import pretrain_dbm
from rbm.training.schedules import linear


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
    parser.add_argument("--hidden", type=positive_int, nargs="+", default=[500, 1000],
                        help="hidden layer widths, bottom up (two or more)")
    parser.add_argument("--epochs", type=positive_int, default=40)
    parser.add_argument("--batch-size", type=positive_int, default=100)
    parser.add_argument("--n-chains", type=positive_int, default=100, help="persistent chains")
    parser.add_argument("--lr", type=positive_float, default=0.05, help="learning rate at the first epoch")
    parser.add_argument("--lr-end", type=positive_float, default=0.005,
                        help="learning rate at the last epoch (linear in between; equal to --lr for a constant one)")
    parser.add_argument("--momentum", type=float, default=0.5)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--mean-field-steps", type=int, default=10)
    parser.add_argument("--gibbs-steps", type=positive_int, default=5, help="Gibbs sweeps per update")
    parser.add_argument("--centering", action=argparse.BooleanOptionalAction, default=True,
                        help="centered gradients (Melchior et al. 2016); --no-centering for the plain ones")
    parser.add_argument("--pretrain-epochs", type=int, default=0,
                        help="CD-1 epochs per modified RBM of Salakhutdinov & Hinton's greedy pretraining "
                             "(rbm.training.pretrain_dbm) before joint training; 0 (default): none")
    parser.add_argument("--pretrain-lr", type=positive_float, default=0.05, help="learning rate of pretraining")
    parser.add_argument("--subset", type=positive_int, default=None, help="train on the first N training rows")
    parser.add_argument("--test-rows", type=positive_int, default=None, help="evaluate on the first N test rows")
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--mode", default="cpu", help="'cpu', 'gpu' or a PyTensor mode name")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--data-dir", default=None, help="folder holding the MNIST files (default: download)")
    parser.add_argument("--out", default="dbm_out", help="folder for model.npz, the PNGs and dbm.json")
    parser.add_argument("--ais", action="store_true", help="estimate log Z by AIS and print the test bound")
    parser.add_argument("--ais-runs", type=positive_int, default=100)
    parser.add_argument("--ais-betas", type=positive_int, default=None,
                        help="evenly spaced inverse temperatures (default: rbm.evaluation.default_betas())")
    parser.add_argument("--raise-rows", type=int, default=0,
                        help="also a conservative estimate (RAISE) of log p(v) on this many test digits")
    parser.add_argument("--raise-betas", type=positive_int, default=5000, help="evenly spaced temperatures of RAISE")
    parser.add_argument("--n-samples", type=positive_int, default=10, help="kept states per sampling chain")
    parser.add_argument("--plot-every", type=positive_int, default=1000, help="Gibbs sweeps between kept states")
    parser.add_argument("--checkpoint", default=None, help="write the training state here (.npz) every epoch")
    parser.add_argument("--resume", default=None, help="continue from this checkpoint")
    args = parser.parse_args(argv)
    if len(args.hidden) < 2:
        parser.error("--hidden needs two or more widths (one hidden layer is an RBM: examples/mnist_rbm.py)")
    return args


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    try:
        mnist = load_mnist(args.data_dir)
    except (OSError, ValueError) as error:
        sys.exit(f"error: {error}")
    train = binarize(mnist.train.X[: args.subset], "stochastic", seed=args.seed)
    test = binarize(mnist.test.X[: args.test_rows], "stochastic", seed=args.seed + 1)
    sizes = [784, *args.hidden]
    print(f"DBM {'-'.join(map(str, sizes))} on {len(train)} binarised digits: {args.epochs} epochs, batch "
          f"{args.batch_size}, {args.n_chains} chains x {args.gibbs_steps} sweeps, {args.mean_field_steps} "
          f"mean-field steps, lr {args.lr} .. {args.lr_end}, momentum {args.momentum}, centering {args.centering}; mode "
          f"{args.mode}, {args.dtype}")
    results = {"args": vars(args)}
    try:
        model = DBM(sizes, numpy_rng=args.seed, seed=args.seed, dtype=args.dtype)
        model.set_params(bias_0=visible_bias_from_data(train))  # Hinton's guide: log(p / (1 - p))
        learning_rate = (args.lr if args.lr_end == args.lr or args.epochs == 1
                         else linear(args.lr, args.lr_end, args.epochs - 1))
        trainer = DBMTrainer(model, learning_rate=learning_rate, batch_size=args.batch_size, n_chains=args.n_chains,
                             mean_field_steps=args.mean_field_steps, gibbs_steps=args.gibbs_steps,
                             momentum=args.momentum, weight_decay=args.weight_decay, centering=args.centering,
                             mode=args.mode, seed=args.seed)
        if args.pretrain_epochs > 0 and args.resume is None:  # a resumed run restores trained parameters
            start = time.perf_counter()
            pretrain_dbm(model, train, epochs=args.pretrain_epochs, learning_rate=args.pretrain_lr,
                         batch_size=args.batch_size, momentum=args.momentum, seed=args.seed, mode=args.mode)
            results["pretraining_minutes"] = (time.perf_counter() - start) / 60
            print(f"pretraining took {results['pretraining_minutes']:.1f} minutes")
        start = time.perf_counter()
        history = trainer.fit(train, epochs=args.epochs, verbose=True,
                              checkpoint=args.checkpoint, resume=args.resume)
        results["training_minutes"] = (time.perf_counter() - start) / 60
        results["history"] = list(history)
        print(f"training took {results['training_minutes']:.1f} minutes")
        model.save(os.path.join(args.out, "model.npz"))
        filters = model.get_params()["W_0"].T[:100]
        save_image(tile_raster_images(filters, img_shape=(28, 28), tile_shape=(10, 10)),
                   os.path.join(args.out, "filters.png"))
        samples = model.sample_chains(test[:10], n_samples=args.n_samples, plot_every=args.plot_every,
                                      mode=args.mode, seed=args.seed)
        save_image(tile_raster_images(samples.reshape(-1, 784), img_shape=(28, 28), tile_shape=(args.n_samples, 10),
                                      scale_rows_to_unit_interval=False), os.path.join(args.out, "samples.png"))
        if args.ais:
            betas = default_betas() if args.ais_betas is None else np.linspace(0.0, 1.0, args.ais_betas)
            ais = dbm_evaluation.ais_log_partition(model, n_runs=args.ais_runs, betas=betas, base_rate=train,
                                                   seed=args.seed, mode=args.mode)
            print(f"AIS log Z = {ais.log_z:.2f} (interval {ais.log_z_low:.2f} .. {ais.log_z_high:.2f}; "
                  f"{ais.n_runs} runs, {ais.n_betas} temperatures, {ais.seconds:.0f} s)")
            bound = dbm_evaluation.mean_field_bound(model, test, ais)
            train_bound = dbm_evaluation.mean_field_bound(model, train[: len(test)], ais)
            print(f"train log-likelihood lower bound: {train_bound.log_likelihood_bound:.2f} nats")
            print(f"test log-likelihood lower bound: {bound.log_likelihood_bound:.2f} nats "
                  f"(+- {bound.standard_error:.2f} over rows; {bound.low:.2f} .. {bound.high:.2f} over AIS's "
                  f"interval; {len(test)} digits)")
            results.update(log_z=ais._asdict(), test_bound=bound.log_likelihood_bound, test_bound_low=bound.low,
                           test_bound_high=bound.high, train_bound=train_bound.log_likelihood_bound)
        if args.raise_rows > 0:
            rows = np.random.default_rng(args.seed).permutation(len(test))[: args.raise_rows]
            raised = evaluation.raise_log_likelihood(model, test[rows], betas=np.linspace(0.0, 1.0, args.raise_betas),
                                                     base_rate=train, seed=args.seed, mode=args.mode)
            same_digits = (f"; the mean-field bound on the same digits {bound.per_row[rows].mean():.2f}"
                           if args.ais else "")
            print(f"RAISE: {len(rows)} test digits, {raised.n_betas} temperatures, {raised.seconds:.0f} s: mean "
                  f"log p {raised.log_likelihood:.2f} nats (+- {raised.standard_error:.2f} over rows){same_digits}")
            results.update(raise_log_likelihood=raised.log_likelihood, raise_standard_error=raised.standard_error,
                           raise_rows=len(rows), raise_betas=raised.n_betas)
    except (ValueError, TypeError, ImportError, RuntimeError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
    with open(os.path.join(args.out, "dbm.json"), "w", encoding="utf-8") as stream:
        json.dump(results, stream, indent=1, default=float)
    return results


if __name__ == "__main__":
    main()
