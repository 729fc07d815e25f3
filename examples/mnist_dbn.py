#!/usr/bin/env python
"""Train the Theano tutorial's Deep Belief Network on MNIST: greedy pretraining, then fine-tuning.

Defaults are the tutorial's: 784-1000-1000-1000-10, CD-1 pretraining at
learning rate 0.01 for 100 epochs per layer, fine-tuning at 0.1 for up to
1000 epochs with early stopping, minibatches of 10, on the 50,000 / 10,000 /
10,000 train / validation / test split. The tutorial reports 1.34% test error.
Flags shrink the run (``--hidden 500 500 --pretraining-epochs 5 --subset 10000``).
"""
import argparse
import json
import os
import sys
import time

import numpy as np

import rbm
from rbm.datasets import load_mnist


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=positive_int, nargs="+", default=[1000, 1000, 1000],
                        help="hidden layer widths, bottom up")
    parser.add_argument("--pretraining-epochs", type=int, default=100)
    parser.add_argument("--pretrain-lr", type=float, default=0.01)
    parser.add_argument("--k", type=positive_int, default=1, help="Gibbs steps of CD-k pretraining")
    parser.add_argument("--training-epochs", type=int, default=1000, help="most fine-tuning epochs")
    parser.add_argument("--finetune-lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=positive_int, default=10)
    parser.add_argument("--subset", type=positive_int, default=None, help="train on the first N training rows")
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--mode", default="cpu", help="'cpu', 'gpu' or a PyTensor mode name")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--data-dir", default=None, help="folder holding the MNIST files (default: download)")
    parser.add_argument("--out", default="rbm_plots", help="folder for dbn.json (history and results)")
    parser.add_argument("--checkpoint", default=None, help="write the state here (.npz) after every epoch")
    parser.add_argument("--resume", default=None, help="continue from this checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (a line per epoch stays)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    try:
        mnist = load_mnist(args.data_dir)
    except (OSError, ValueError) as error:
        sys.exit(f"error: {error}")
    train = (mnist.train.X[: args.subset], mnist.train.y[: args.subset])
    print(f"DBN 784-{'-'.join(map(str, args.hidden))}-10 on {len(train[0])} training digits: CD-{args.k} "
          f"pretraining, lr {args.pretrain_lr}, {args.pretraining_epochs} epochs per layer; fine-tuning lr "
          f"{args.finetune_lr}, up to {args.training_epochs} epochs; batch {args.batch_size}; mode {args.mode}, "
          f"{args.dtype}")
    start = time.perf_counter()
    try:
        dbn = rbm.DBN(numpy_rng=np.random.RandomState(args.seed), n_ins=784, hidden_layers_sizes=args.hidden,
                      n_outs=10, dtype=args.dtype, seed=args.seed)
        trainer = rbm.DBNTrainer(dbn, pretrain_lr=args.pretrain_lr, k=args.k, finetune_lr=args.finetune_lr,
                                 batch_size=args.batch_size, mode=args.mode)
        history = trainer.fit(train, (mnist.valid.X, mnist.valid.y), (mnist.test.X, mnist.test.y),
                              pretraining_epochs=args.pretraining_epochs, training_epochs=args.training_epochs,
                              progress_bars=not args.no_progress, checkpoint=args.checkpoint, resume=args.resume)
    except (ValueError, TypeError, ImportError, RuntimeError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
    minutes = {name: None if seconds is None else seconds / 60 for name, seconds in
               (("pretraining_minutes", trainer.pretraining_seconds), ("finetuning_minutes", trainer.finetuning_seconds))}
    print(f"pretraining took {minutes['pretraining_minutes'] or 0:.1f} minutes, fine-tuning "
          f"{minutes['finetuning_minutes'] or 0:.1f} minutes ({(time.perf_counter() - start) / 60:.1f} in all)")
    results = dict(minutes, best_validation_error=trainer.best_validation_error, best_epoch=trainer.best_epoch,
                   test_error=trainer.test_error, history=list(history))
    if trainer.test_error is not None:  # None when no fine-tuning epoch ran
        print(f"best validation error {100 * trainer.best_validation_error:.2f} % at epoch "
              f"{trainer.best_epoch}, test error {100 * trainer.test_error:.2f} %")
    with open(os.path.join(args.out, "dbn.json"), "w", encoding="utf-8") as stream:
        json.dump({"args": vars(args), **results}, stream, indent=1)
    return results


if __name__ == "__main__":
    main()
