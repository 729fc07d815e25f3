#!/usr/bin/env python
"""A Gaussian-Bernoulli RBM on whitened patches of the photographs that ship with scikit-learn.

Grey-level 8x8 patches are cut at random from ``load_sample_images()`` (a
Chinese temple and a flower), each patch's mean is removed and the patches
are ZCA-whitened (unit variance, decorrelated pixels), so sigma = 1. CD-1
learns filters that are localised, oriented edges. Writes
``grbm_filters.png`` (each hidden unit's filter on raw pixels, zca W) and ``grbm_reconstruction.png`` (the reconstruction's
mean squared error per epoch) into ``--out``.
"""
import argparse
import os
import time

import numpy as np
from sklearn.datasets import load_sample_images
from sklearn.feature_extraction.image import extract_patches_2d

import rbm
from rbm.images import plot_curves, save_image, tile_raster_images


def whitened_patches(size, n_patches, seed, epsilon=1.0):
    """(patches, zca): mean-removed, ZCA-whitened grey patches of size x size pixels."""
    images = [image.mean(axis=2) / 255.0 for image in load_sample_images().images]
    patches = np.concatenate([
        extract_patches_2d(image, (size, size), max_patches=n_patches // len(images), random_state=seed + i)
        for i, image in enumerate(images)]).reshape(-1, size * size)
    patches -= patches.mean(axis=1, keepdims=True)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(patches, rowvar=False))
    # epsilon (relative to the largest variance) keeps the flat directions from being blown up into noise
    zca = eigenvectors @ np.diag(1 / np.sqrt(eigenvalues + epsilon * eigenvalues.max())) @ eigenvectors.T
    whitened = patches @ zca
    return whitened / whitened.std(), zca


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=8, choices=(8, 12), help="patch side in pixels")
    parser.add_argument("--patches", type=int, default=20000)
    parser.add_argument("--n-hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--mode", default="cpu")
    parser.add_argument("--epsilon", type=float, default=1.0,
                        help="ZCA regulariser, relative to the largest variance")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="rbm_plots")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    data, zca = whitened_patches(args.size, args.patches, args.seed, args.epsilon)
    print(f"{len(data)} whitened {args.size}x{args.size} patches; GaussianBernoulliRBM with {args.n_hidden} hidden "
          f"units, sigma 1, CD-1, lr {args.lr}, batch {args.batch_size}, {args.epochs} epochs, mode {args.mode}")
    model = rbm.GaussianBernoulliRBM(n_visible=data.shape[1], n_hidden=args.n_hidden, numpy_rng=args.seed,
                                     seed=args.seed, dtype="float32")
    trainer = rbm.Trainer(model, learning_rate=args.lr, k=1, persistent=False, batch_size=args.batch_size,
                          momentum=0.5, mode=args.mode, seed=args.seed)
    start = time.perf_counter()
    history = trainer.fit(data, epochs=args.epochs, verbose=False)
    print(f"training took {time.perf_counter() - start:.1f} s; reconstruction MSE "
          f"{history[0]['cost']:.4f} (epoch 0) -> {history[-1]['cost']:.4f} (epoch {history[-1]['epoch']})")
    columns = int(np.ceil(np.sqrt(args.n_hidden)))
    # A hidden unit sees a raw patch x through (x zca) W: its filter in pixel space is zca W.
    tiles = tile_raster_images((zca @ model.W.get_value()).T, img_shape=(args.size, args.size),
                               tile_shape=(int(np.ceil(args.n_hidden / columns)), columns), tile_spacing=(1, 1))
    save_image(tiles, os.path.join(args.out, "grbm_filters.png"), scale=4)
    plot_curves(os.path.join(args.out, "grbm_reconstruction.png"),
                {"reconstruction MSE": ([r["epoch"] for r in history], [r["cost"] for r in history])},
                title="GaussianBernoulliRBM on whitened image patches")
    model.save(os.path.join(args.out, "grbm.npz"))
    print(f"wrote grbm_filters.png, grbm_reconstruction.png and grbm.npz to {args.out}")
    return history


if __name__ == "__main__":
    main()
