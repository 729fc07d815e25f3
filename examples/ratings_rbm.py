#!/usr/bin/env python
"""Collaborative filtering with an RBM of categorical visible units (Salakhutdinov, Mnih & Hinton, 2007).

Each item is one categorical visible variable with K = 5 softmax units (the
ratings 1..5), and each user is one row: the one-hot ratings of the items
they rated, all zeros for the others. An all-zero group is a missing rating:
the paper gives every user an RBM over the items they rated, with weights
shared between users, which is what :class:`rbm.layers.Categorical` computes
(a missing item adds nothing to p(h | v), to the free energy, or to either
phase of contrastive divergence). Training is CD-k with k rising in equal
phases (1, 3, 5 by default, a new :class:`rbm.Trainer` per phase, whose
momentum starts again from zero), momentum and weight decay.

A user's rating of item i is predicted from the ratings they gave in the
training part: p_j = p(h_j = 1 | v_train), then
p(v_i = k | p) = softmax_k(b_ik + sum_j p_j W_ik,j), and the prediction is
the expected rating sum_k k p(v_i = k | p).

Data: ``--data FILE`` reads a MovieLens-format file (``user item rating
timestamp`` per line, tab-separated, as MovieLens 100k's ``u.data``); without
it a synthetic set is made (:func:`rbm.datasets.synthetic_ratings`: 1,000
users x 200 items from a noisy rank-5 score, 15% observed). Each user's
ratings are split 80/20 into train and test at random (seeded). Users that
fall in the last ``n_users % batch_size`` rows (in a seeded order) are not
trained on, as the trainer drops them, but their test ratings are predicted
and scored all the same.

It prints the test RMSE per epoch and, at the end,
``test RMSE: rbm X, item mean Y, user+item bias Z`` against two baselines fit
on the training ratings: each item's mean rating, and mu + b_user + b_item
with L2-regularised biases (the regularisation chosen on a held-out tenth of
the training ratings). ``--out`` gets ``ratings_rmse.png``, the test RMSE per
epoch. The default run takes about a minute on two cores.
"""
import argparse
import os
import time

import numpy as np

import rbm
from rbm import datasets
from rbm.layers import Categorical

N_CATEGORIES = 5  # ratings 1..5
BIAS_REGULARISATIONS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)


def rmse(predicted, actual):
    """Root mean squared error."""
    return float(np.sqrt(np.mean((np.asarray(predicted, dtype=np.float64) - actual) ** 2)))


def item_means(rows, items, ratings, n_items):
    """Each item's mean training rating (the global mean for items nobody rated in training)."""
    counts = np.bincount(items, minlength=n_items)
    sums = np.bincount(items, ratings, minlength=n_items)
    return np.where(counts > 0, sums / np.maximum(counts, 1), ratings.mean())


def fit_biases(rows, items, ratings, n_users, n_items, regularisation, sweeps=25):
    """(mu, b_user, b_item) minimising sum (r - mu - b_u - b_i)^2 + regularisation (|b_user|^2 + |b_item|^2).

    mu is the mean rating; the biases are found by alternating exact
    minimisation over b_item and b_user (each a ridge regression with a
    closed form, per item or per user), which converges on this convex problem.
    """
    mu = ratings.mean()
    user_counts = np.bincount(rows, minlength=n_users)
    item_counts = np.bincount(items, minlength=n_items)
    user_bias, item_bias = np.zeros(n_users), np.zeros(n_items)
    for _ in range(sweeps):
        item_bias = np.bincount(items, ratings - mu - user_bias[rows], minlength=n_items) / (item_counts + regularisation)
        user_bias = np.bincount(rows, ratings - mu - item_bias[items], minlength=n_users) / (user_counts + regularisation)
    return mu, user_bias, item_bias


def bias_baseline(train, test, n_users, n_items, seed):
    """Test predictions of the user+item bias model, its regularisation chosen on a held-out tenth of train."""
    rows, items, ratings = train
    inner_train, inner_valid = datasets.split_ratings(datasets.Ratings(rows, items, ratings), test_fraction=0.1,
                                                      seed=seed)

    def predict(fit, rows, items):
        mu, user_bias, item_bias = fit
        return np.clip(mu + user_bias[rows] + item_bias[items], 1, N_CATEGORIES)

    errors = {regularisation: rmse(predict(fit_biases(*inner_train, n_users, n_items, regularisation),
                                           inner_valid.user, inner_valid.item), inner_valid.rating)
              for regularisation in BIAS_REGULARISATIONS}
    regularisation = min(errors, key=errors.get)
    return predict(fit_biases(rows, items, ratings, n_users, n_items, regularisation),
                   test[0], test[1]), regularisation


def expected_ratings(params, train_data, rows, items):
    """E[v_i] under p(v_i | h = p(h | v_train)) for each (row, item) pair, from the model's parameters.

    p(h | v) = sigmoid(v W + c) with v the user's training row (missing
    items are zero and add nothing); p(v_i = k | p) = softmax_k(b_ik + (W p)_ik).
    """
    W, hbias, vbias = params["W"], params["hbias"], params["vbias"]
    n_items = len(vbias) // N_CATEGORIES
    hidden_probabilities = 1 / (1 + np.exp(-(train_data @ W + hbias)))
    W_by_item = W.reshape(n_items, N_CATEGORIES, -1)
    activations = (np.einsum("nh,nkh->nk", hidden_probabilities[rows], W_by_item[items])
                   + vbias.reshape(n_items, N_CATEGORIES)[items])
    probabilities = np.exp(activations - activations.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return probabilities @ np.arange(1, N_CATEGORIES + 1)


def initial_parameters(train_data, n_hidden, weight_std, seed):
    """W ~ N(0, weight_std^2); visible biases at the log of each item's training rating frequencies.

    The frequencies are smoothed by one count per rating, so an item never
    rated in training starts uniform; with these biases (and small weights)
    the first predictions are close to each item's mean rating.
    """
    n_items = train_data.shape[1] // N_CATEGORIES
    counts = train_data.reshape(len(train_data), n_items, N_CATEGORIES).sum(axis=0) + 1.0
    vbias = np.log(counts / counts.sum(axis=1, keepdims=True)).ravel()
    W = weight_std * np.random.default_rng(seed).standard_normal((n_items * N_CATEGORIES, n_hidden))
    return W, vbias


def k_phases(epochs, ks):
    """[(k, epochs of that phase)]: the epochs cut into len(ks) near-equal phases, in order."""
    cuts = np.linspace(0, epochs, len(ks) + 1).round().astype(int)
    return [(k, int(stop - start)) for k, start, stop in zip(ks, cuts[:-1], cuts[1:]) if stop > start]


def plot_learning_curve(path, curve, baselines):
    """A PNG of the RBM's test RMSE per epoch, with each baseline's test RMSE as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axis = pyplot.subplots(figsize=(6, 3.6))
    axis.plot(np.arange(len(curve)), curve, marker="o", markersize=3, label="RBM")
    for (name, value), style in zip(baselines.items(), ("--", ":")):
        axis.axhline(value, linestyle=style, color="grey", label=f"{name} ({value:.3f})")
    axis.set_xlabel("epoch")
    axis.set_ylabel("test RMSE")
    axis.set_title("RBM collaborative filtering")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def load(args):
    """The ratings: the file of ``--data``, or the synthetic set."""
    if args.data is not None:
        if not os.path.isfile(args.data):
            raise SystemExit(f"error: --data {args.data!r} is not a file")
        return datasets.read_ratings(args.data, n_categories=N_CATEGORIES, delimiter=args.delimiter), args.data
    ratings = datasets.synthetic_ratings(n_users=args.users, n_items=args.items, density=args.density,
                                         seed=args.seed)
    return ratings, f"synthetic ratings ({args.users} users x {args.items} items, density {args.density})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="a MovieLens-format ratings file (user, item, rating 1..5, timestamp)")
    parser.add_argument("--delimiter", default="\t", help="the file's field separator ('::' for MovieLens 1M)")
    parser.add_argument("--users", type=int, default=1000, help="synthetic set: users")
    parser.add_argument("--items", type=int, default=200, help="synthetic set: items")
    parser.add_argument("--density", type=float, default=0.15, help="synthetic set: share of ratings observed")
    parser.add_argument("--n-hidden", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=45)
    parser.add_argument("--k", default="1,3,5",
                        help="CD steps of successive phases of (nearly) equal length, comma-separated")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.5)
    parser.add_argument("--weight-decay", type=float, default=0.003)
    parser.add_argument("--weight-std", type=float, default=0.1, help="standard deviation of the initial weights")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--mode", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="rbm_plots")
    args = parser.parse_args(argv)
    try:
        ks = [int(k) for k in args.k.split(",")]
    except ValueError:
        parser.error(f"--k must be comma-separated integers, got {args.k!r}")
    if args.epochs < 1 or any(k < 1 for k in ks):
        parser.error("--epochs and every --k must be >= 1")

    try:  # a bad file or setting is reported in one line, without a traceback
        ratings, source = load(args)
        train, test = datasets.split_ratings(ratings, test_fraction=args.test_fraction, seed=args.seed,
                                             n_categories=N_CATEGORIES)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    os.makedirs(args.out, exist_ok=True)
    # rows and item groups for every id of the whole set, so train and test share them
    encoded = datasets.ratings_to_one_hot(train, N_CATEGORIES, users=np.unique(ratings.user),
                                          items=np.unique(ratings.item))
    train_data, n_users, n_items = encoded.data, len(encoded.users), len(encoded.items)
    train_index = (np.searchsorted(encoded.users, train.user), np.searchsorted(encoded.items, train.item),
                   train.rating)
    test_rows, test_items = np.searchsorted(encoded.users, test.user), np.searchsorted(encoded.items, test.item)
    print(f"{source}: {len(ratings.rating)} ratings by {n_users} users of {n_items} items; "
          f"{len(train.rating)} train, {len(test.rating)} test")

    item_mean_rmse = rmse(item_means(*train_index, n_items)[test_items], test.rating)
    bias_predictions, regularisation = bias_baseline(train_index, (test_rows, test_items), n_users, n_items,
                                                     args.seed)
    bias_rmse = rmse(bias_predictions, test.rating)

    W, vbias = initial_parameters(train_data, args.n_hidden, args.weight_std, args.seed)
    model = rbm.RBM(n_visible=n_items, n_hidden=args.n_hidden, W=W, vbias=vbias, visible=Categorical(N_CATEGORIES),
                    seed=args.seed, dtype="float64")
    # the trainer takes whole minibatches of rows in order: a seeded order spreads the users it leaves out
    rows_in_order = train_data[np.random.default_rng(args.seed).permutation(n_users)]
    phases = k_phases(args.epochs, ks)
    print(f"RBM: {n_items} categorical visible variables of {N_CATEGORIES} units, {args.n_hidden} hidden; "
          f"CD-k with k = {', '.join(f'{k} for {n} epochs' for k, n in phases)}; lr {args.lr}, momentum "
          f"{args.momentum}, weight decay {args.weight_decay}, batch {args.batch_size}")

    curve = []

    def score(trainer, record):
        curve.append(rmse(expected_ratings(model.get_params(), train_data, test_rows, test_items), test.rating))
        print(f"epoch {len(curve) - 1} (CD-{trainer.k}): test RMSE {curve[-1]:.4f}", flush=True)

    start = time.perf_counter()
    for k, epochs in phases:
        trainer = rbm.Trainer(model, learning_rate=args.lr, k=k, persistent=False, batch_size=args.batch_size,
                              momentum=args.momentum, weight_decay=args.weight_decay, mode=args.mode,
                              seed=args.seed + k)
        trainer.fit(rows_in_order, epochs=epochs, callbacks=score, verbose=False)
    print(f"training took {time.perf_counter() - start:.1f} s; user+item bias regularisation {regularisation}")

    plot_learning_curve(os.path.join(args.out, "ratings_rmse.png"), curve,
                        {"item mean": item_mean_rmse, "user+item bias": bias_rmse})
    print(f"test RMSE: rbm {curve[-1]:.4f}, item mean {item_mean_rmse:.4f}, user+item bias {bias_rmse:.4f}")
    return {"rbm": curve[-1], "item mean": item_mean_rmse, "user+item bias": bias_rmse, "curve": curve}


if __name__ == "__main__":
    main()
