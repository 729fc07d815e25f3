#!/usr/bin/env python
"""Train an RBM on MNIST the way the Theano tutorial does, then draw samples.

Defaults reproduce the tutorial: PCD-15, learning rate 0.1, minibatches of 20,
15 epochs, 500 hidden units; then 20 persistent chains started from test
digits, 10 samples kept every 1,000 Gibbs steps. Writes
``filters_at_epoch_N.png``, ``samples.png``, ``training_curves.png`` and
``model.npz`` (plain-RBM W, hbias, vbias) into ``--out``.

``--preset likelihood`` is the recipe for test log-likelihood on
stochastically binarised MNIST (Salakhutdinov & Murray's data);
``--preset likelihood-threshold`` the earlier one for MNIST thresholded at 0.5
(see PRESETS and the methods table in docs/results.rst). Flags given with a
preset override its values.
"""
import argparse
import os
import sys
import time

import numpy as np

import rbm
from rbm import evaluation
from rbm.datasets import binarize, load_mnist
from rbm.images import plot_curves, save_image, tile_raster_images
from rbm.training import schedules


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def temperatures(text):
    """--tempering: a count n (n inverse temperatures evenly spaced from 0 to 1) or increasing values, comma-separated."""
    if "," not in text:
        return int(text)
    try:
        return [float(value) for value in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a count or comma-separated inverse temperatures, got {text!r}") from None


def positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


#: settings of --preset; the methods table in docs/results.rst gives what each reached
PRESETS = {
    # centered PCD-1 (Melchior et al. 2016) of 1,000 hidden units, 100 persistent chains, batch 100, learning
    # rate 0.04 decaying linearly to 0 over 200 epochs, weight decay 5e-4, the mean of the last 10 epochs'
    # parameters; the free-energy gap on 2,000 validation digits, AIS, a tracking AIS every 50 epochs,
    # and RAISE on 200 test digits. Chosen on stochastically
    # binarised digits from runs of 500 and 1,000 units, with and without weight decay and averaging (and
    # lr 0.02, 420 epochs, all 60,000 training images, momentum 0.5 or parallel tempering, which did not
    # help): benchmarks/results/likelihood_*.txt
    "likelihood": dict(binarize="stochastic", init="hinton", k=1, cd=False, batch_size=100,
                       persistent_chains=100, centering=True, lr=0.04, lr_schedule="linear", momentum=0.0,
                       n_hidden=1000, weight_decay=5e-4, average_last_epochs=10, epochs=200, ais=True,
                       track_every=50, raise_rows=200, filters_every=50, gap_rows=2000),
    # the same method as measured on MNIST thresholded at 0.5 (-70.68 .. -68.14 nats)
    "likelihood-threshold": dict(binarize="threshold", init="hinton", k=1, cd=False, batch_size=100,
                                 persistent_chains=100, centering=True, lr=0.02, lr_schedule="linear",
                                 momentum=0.0, epochs=320, ais=True, track_every=40, raise_rows=300,
                                 filters_every=40),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None,
                        help="a tested recipe; other flags override its settings")
    parser.add_argument("--epochs", type=positive_int, default=15)
    parser.add_argument("--batch-size", type=positive_int, default=20)
    parser.add_argument("--k", type=positive_int, default=15, help="Gibbs steps per update")
    parser.add_argument("--cd", action="store_true", help="CD-k instead of persistent CD-k")
    parser.add_argument("--lr", type=positive_float, default=0.1, help="learning rate")
    parser.add_argument("--n-hidden", type=positive_int, default=500)
    parser.add_argument("--lr-schedule", choices=("constant", "linear"), default="constant",
                        help="linear: from --lr down to 0 at the last epoch")
    parser.add_argument("--momentum", type=float, default=0.0)
    parser.add_argument("--persistent-chains", type=positive_int, default=None,
                        help="number of PCD chains (default: the minibatch size, as in the tutorial)")
    parser.add_argument("--centering", action=argparse.BooleanOptionalAction, default=False,
                        help="centered RBM (Melchior et al. 2016); the saved model is the equivalent plain RBM")
    parser.add_argument("--tempering", type=temperatures, default=None,
                        help="parallel tempering: a number of temperatures (inverse temperatures evenly spaced "
                             "from 0 to 1), or the inverse temperatures, comma-separated and ending at 1 "
                             "(e.g. 0.6,0.7,0.8,0.9,1)")
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--average-last-epochs", type=int, default=0, metavar="N",
                        help="end with the mean of the parameters at the ends of the last N epochs "
                             "(stochastic weight averaging; 0: the last parameters)")
    parser.add_argument("--init", choices=("tutorial", "hinton"), default="tutorial",
                        help="tutorial: W uniform, zero biases; hinton: W ~ N(0, 0.01^2), "
                             "visible biases from pixel means (Hinton's practical guide)")
    parser.add_argument("--subset", type=positive_int, default=None,
                        help="train on the first N training rows only")
    parser.add_argument("--train-on-validation", action=argparse.BooleanOptionalAction, default=False,
                        help="train on the 10,000 validation digits too (all 60,000 training images of "
                             "MNIST); no free-energy gap is then measured")
    parser.add_argument("--gap-rows", type=positive_int, default=None, metavar="N",
                        help="measure the free-energy gap on the first N validation digits (and as many training "
                             "digits) after each epoch (default: all 10,000)")
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
    parser.add_argument("--filters-every", type=positive_int, default=1,
                        help="write filters_at_epoch_N.png every N epochs (and after the last)")
    parser.add_argument("--ais", action="store_true",
                        help="after training, estimate log Z by AIS and print train/test log-likelihood")
    parser.add_argument("--ais-runs", type=positive_int, default=100)
    parser.add_argument("--ais-betas", type=positive_int, default=None,
                        help="number of evenly spaced temperatures (default: the paper's 14,501)")
    parser.add_argument("--track-every", type=int, default=0,
                        help="estimate the test log-likelihood by a cheap AIS (100 runs, 1,000 temperatures) "
                             "every N epochs, for the training curves (0: never)")
    parser.add_argument("--raise-rows", type=int, default=0,
                        help="with --ais, also a conservative estimate (RAISE) on this many test digits")
    parser.add_argument("--raise-betas", type=positive_int, default=None,
                        help="number of evenly spaced temperatures of RAISE (default: AIS's 14,501 of Salakhutdinov & "
                             "Murray, fine near beta = 1, which tighten the bound: measured -86.96 against -87.44 "
                             "with 15,000 evenly spaced on one model)")
    args = parser.parse_args(argv)
    if args.preset:
        parser.set_defaults(**PRESETS[args.preset])
        args = parser.parse_args(argv)
    return args


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    try:
        mnist = load_mnist(args.data_dir, binarize_method=args.binarize, seed=args.seed)
    except (OSError, ValueError) as error:
        sys.exit(f"error: {error}")
    train_X = mnist.train.X[: args.subset] if args.subset else mnist.train.X
    valid_X = mnist.valid.X
    if args.train_on_validation:
        train_X, valid_X = np.concatenate([train_X, valid_X]), None
    test_X = mnist.test.X
    method = "PT" if args.tempering else "CD" if args.cd else "PCD"
    print(f"MNIST: {len(train_X)} training rows, {'centered ' if args.centering else ''}{method}-{args.k}, "
          f"lr {args.lr} ({args.lr_schedule}), batch {args.batch_size}, "
          f"{args.persistent_chains or args.batch_size} chains, momentum {args.momentum}, "
          f"weight decay {args.weight_decay}, averaged over {args.average_last_epochs or 'no'} last epochs, "
          f"{args.n_hidden} hidden, {args.init} init, mode {args.mode}, "
          f"{args.dtype}{', binarised ' + args.binarize if args.binarize else ''}")
    run_start = time.perf_counter()

    try:
        if args.init == "hinton":
            model = rbm.RBM.from_data(train_X, n_hidden=args.n_hidden, numpy_rng=args.seed,
                                      seed=args.seed, dtype=args.dtype)
        else:
            model = rbm.RBM(n_visible=train_X.shape[1], n_hidden=args.n_hidden,
                            numpy_rng=np.random.RandomState(args.seed), seed=args.seed, dtype=args.dtype)
        learning_rate = (schedules.linear(args.lr, 0.0, args.epochs) if args.lr_schedule == "linear"
                         else args.lr)
        trainer = rbm.Trainer(model, learning_rate=learning_rate, k=args.k, persistent=not args.cd,
                              batch_size=args.batch_size, momentum=args.momentum,
                              weight_decay=args.weight_decay, mode=args.mode, seed=args.seed,
                              n_chains=None if args.cd else args.persistent_chains, centering=args.centering,
                              tempering=args.tempering, average_last_epochs=args.average_last_epochs or None)
    except (ValueError, TypeError, ImportError, RuntimeError) as error:
        sys.exit(f"error: {error}")

    def plot_filters(trainer, record):
        epoch = record["epoch"]
        if (epoch + 1) % args.filters_every and epoch != args.epochs - 1:
            return
        tiles = tile_raster_images(model.W.get_value(borrow=True).T, img_shape=(28, 28),
                                   tile_shape=(10, 10), tile_spacing=(1, 1))
        save_image(tiles, os.path.join(args.out, f"filters_at_epoch_{record['epoch']}.png"))

    callbacks = [plot_filters]
    scored_test_X = test_X if args.binarize else binarize(test_X, "stochastic", seed=args.seed + 1)
    if args.track_every > 0:
        callbacks.append(evaluation.LikelihoodTracker(scored_test_X, every=args.track_every, base_rate=train_X,
                                                      seed=args.seed, last_epoch=args.epochs - 1))
        callbacks.append(print_tracked_likelihood)
    start = time.perf_counter()
    valid_X = valid_X if valid_X is None or args.gap_rows is None else valid_X[: args.gap_rows]
    history = trainer.fit(train_X, epochs=args.epochs, callbacks=callbacks, valid=valid_X)
    training_time = time.perf_counter() - start
    print(f"training took {training_time / 60:.2f} minutes "
          f"({sum(r['time'] for r in history):.1f} s in epochs)")
    plot_training_curves(history, os.path.join(args.out, "training_curves.png"))

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
    print(f"wrote filters_at_epoch_*.png, samples.png, training_curves.png and model.npz to {args.out}")
    if args.ais:
        report_likelihood(model, train_X, test_X, args)
    print(f"the whole run took {(time.perf_counter() - run_start) / 60:.2f} minutes")
    return history


def print_tracked_likelihood(trainer, record):
    if "log_likelihood" in record:
        print(f"epoch {record['epoch']}: test log-likelihood {record['log_likelihood']:.2f} nats "
              "(cheap AIS: 100 runs, 1,000 temperatures)", flush=True)


def plot_training_curves(history, path):
    """training_curves.png: monitoring cost, free-energy gap and (when tracked) estimated test log-likelihood."""
    epochs = [record["epoch"] for record in history]
    curves = {"monitoring cost": (epochs, [record["cost"] for record in history])}
    if "free_energy_gap" in history[0]:
        curves["free-energy gap\n(valid - train)"] = (epochs, [record["free_energy_gap"] for record in history])
    tracked = [record for record in history if "log_likelihood" in record]
    if tracked:
        curves["test log-likelihood\n(cheap AIS), nats"] = ([r["epoch"] for r in tracked],
                                                            [r["log_likelihood"] for r in tracked])
    plot_curves(path, curves)


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
    if args.raise_rows > 0:
        report_conservative_likelihood(model, train_X, test_X, result.log_z, test_ll, args)


def report_conservative_likelihood(model, train_X, test_X, log_z, test_ll, args):
    """RAISE on a random subset of test digits: the low side of the bracket.

    The full test set's conservative figure is the AIS figure plus the mean
    RAISE - AIS difference on the subset (the difference varies far less
    from digit to digit than log p itself), with its standard error.
    """
    rows = np.random.default_rng(args.seed).permutation(len(test_X))[: args.raise_rows]
    betas = None if args.raise_betas is None else np.linspace(0.0, 1.0, max(args.raise_betas, 2))
    raised = evaluation.raise_log_likelihood(model, test_X[rows], betas=betas,
                                             base_rate=train_X, seed=args.seed, mode=args.mode)
    differences = raised.per_row - (-evaluation.free_energy(model, test_X[rows]) - log_z)
    low = test_ll + differences.mean()
    standard_error = differences.std(ddof=1) / np.sqrt(len(rows)) if len(rows) > 1 else float("nan")
    print(f"RAISE: {len(rows)} test digits, {raised.n_betas} temperatures, {raised.seconds:.1f} s: "
          f"mean log p {raised.log_likelihood:.2f} nats (AIS on the same digits "
          f"{raised.log_likelihood - differences.mean():.2f})")
    print(f"test log-likelihood bracket: {low:.2f} (RAISE, conservative, +-{standard_error:.2f}) .. "
          f"{test_ll:.2f} (AIS) nats")


if __name__ == "__main__":
    main()
