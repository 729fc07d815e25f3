#!/usr/bin/env python
"""scikit-learn's "RBM features for digit classification", with rbm's BernoulliRBM beside scikit-learn's.

The setup of scikit-learn's example: the 8x8 digits, each also shifted by one
pixel in four directions (5x the data), scaled to [0, 1], 80/20 split; an
RBM with 100 hidden units (learning rate 0.06, 10 passes, minibatches of 10)
feeds a logistic regression (C=6000). Both RBMs are timed on the same fit;
rbm's time includes compiling its training function (``--mode``).
"""
import argparse
import time

import numpy as np
from scipy.ndimage import shift
from sklearn import linear_model
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import BernoulliRBM as ScikitLearnRBM
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import minmax_scale

from rbm.estimators import BernoulliRBM


def nudge_dataset(X, y):
    """The digits and four copies shifted by one pixel (up, down, left, right)."""
    images = X.reshape(-1, 8, 8)
    moved = [images] + [np.stack([shift(image, offset, mode="constant") for image in images])
                        for offset in ((-1, 0), (1, 0), (0, -1), (0, 1))]
    return np.concatenate(moved).reshape(-1, 64), np.tile(y, 5)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", default="cpu", help="rbm's compile mode")
    parser.add_argument("--repeats", type=int, default=3, help="fits per RBM (the best time is reported)")
    args = parser.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    X, y = nudge_dataset(np.asarray(X, dtype=np.float64), y)
    X = minmax_scale(X, feature_range=(0, 1))
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    settings = dict(n_components=100, learning_rate=0.06, n_iter=10, batch_size=10, random_state=0)
    rows = []
    for name, make in (("scikit-learn BernoulliRBM", lambda: ScikitLearnRBM(**settings)),
                       (f"rbm BernoulliRBM ({args.mode})", lambda: BernoulliRBM(**settings, mode=args.mode))):
        times = []
        for _ in range(args.repeats):
            model = make()
            start = time.perf_counter()
            model.fit(X_train)
            times.append(time.perf_counter() - start)
        classifier = Pipeline([("rbm", model), ("logistic", linear_model.LogisticRegression(C=6000, max_iter=10000))])
        classifier.named_steps["rbm"].fit = lambda X, y=None, fitted=model: fitted  # reuse the timed fit
        classifier.fit(X_train, y_train)
        rows.append((name, classifier.score(X_test, y_test), min(times), max(times)))
    print(f"{'RBM':32s} {'test accuracy':>13s} {'fit time (s), best':>19s} {'worst':>6s}")
    for name, accuracy, best, worst in rows:
        print(f"{name:32s} {accuracy:13.4f} {best:19.2f} {worst:6.2f}")
    return rows


if __name__ == "__main__":
    main()
