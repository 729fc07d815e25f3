"""Train, sample from, evaluate and describe RBMs from the shell: the 'rbm' command.

Commands ('rbm COMMAND --help' lists each one's options)::

  rbm train DATA           train a binary RBM, or a Gaussian-Bernoulli RBM (--kind gaussian), on DATA;
                           writes model.npz, training_curves.png and filters.png into --out
  rbm sample MODEL         run Gibbs chains from random states or from rows of --start DATA;
                           writes a PNG of the chains' visible means
  rbm evaluate MODEL DATA  average log-likelihood of DATA's rows: log Z exactly when the model is
                           small enough, else AIS (errs high) with RAISE (errs low) on a subset
  rbm info MODEL           kind, shapes, dtype and parameter statistics of a model file

DATA is 'mnist' (the tutorial's split: 50,000 train, 10,000 valid and 10,000 test digits, read from
--data-dir, else downloaded into $RBM_DATA_DIR or ~/.cache/rbm) or a .npy, .npz or .csv file holding
one row per example: values in [0, 1] for a binary RBM, any real values for a Gaussian one. MODEL is a
model.npz written by 'rbm train' or by RBM.save / GaussianBernoulliRBM.save. 'python -m rbm' is the
same command.

A bad argument or file (missing, damaged, the wrong width for the model, values outside [0, 1]) is
reported on one line of stderr with exit status 2, and nothing is written. Training that diverges
exits with status 1, an interrupted run (Ctrl-C) with 130. Output files are written only once the
work succeeded, each atomically (a temporary file renamed into place). Progress bars are drawn only
when stderr is a terminal; a log (output redirected to a file) gets one line per epoch.
"""
import argparse
import importlib.util
import math
import os
import re
import sys
import textwrap
import zipfile

import numpy as np

from . import backend, evaluation
from ._version import __version__
from .datasets import binarize, load_mnist
from .images import plot_curves, save_image, tile_raster_images
from .models import RBM, GaussianBernoulliRBM
from .sampling import sample_chains
from .training import Trainer, TrainingDiverged, schedules
from .validation import check_data

__all__ = ["main", "METHODS", "MODEL_CLASSES"]

#: exit statuses
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

#: model file kind -> class (see :mod:`rbm.persistence`)
MODEL_CLASSES = {RBM.FILE_KIND: RBM, GaussianBernoulliRBM.FILE_KIND: GaussianBernoulliRBM}
KINDS = {"binary": RBM, "gaussian": GaussianBernoulliRBM}

#: settings of ``rbm train --method``; flags given with it override its values
METHODS = {
    # the Theano tutorial's recipe (examples/mnist_rbm.py's defaults)
    "pcd15": dict(n_hidden=500, k=15, persistent=True, n_chains=None, centering=False, lr=0.1,
                  lr_schedule="constant", batch_size=20, momentum=0.0, weight_decay=0.0, init="tutorial",
                  binarize="none", epochs=15, average_last_epochs=0),
    # CD-1 and PCD-1 as the methods table of docs/results.rst compared them (30 epochs, thresholded MNIST)
    "cd1": dict(n_hidden=500, k=1, persistent=False, n_chains=None, centering=False, lr=0.01,
                lr_schedule="constant", batch_size=100, momentum=0.0, weight_decay=0.0, init="hinton",
                binarize="none", epochs=30, average_last_epochs=0),
    "pcd1": dict(n_hidden=500, k=1, persistent=True, n_chains=100, centering=False, lr=0.01,
                 lr_schedule="constant", batch_size=100, momentum=0.0, weight_decay=0.0, init="hinton",
                 binarize="none", epochs=30, average_last_epochs=0),
    # centered PCD-1 (Melchior et al. 2016): examples/mnist_rbm.py --preset likelihood, the best measured
    # test log-likelihood on stochastically binarised MNIST, and --preset likelihood-threshold
    "likelihood": dict(n_hidden=1000, k=1, persistent=True, n_chains=100, centering=True, lr=0.04,
                       lr_schedule="linear", batch_size=100, momentum=0.0, weight_decay=5e-4, init="hinton",
                       binarize="stochastic", epochs=200, average_last_epochs=10),
    "likelihood-threshold": dict(n_hidden=500, k=1, persistent=True, n_chains=100, centering=True, lr=0.02,
                                 lr_schedule="linear", batch_size=100, momentum=0.0, weight_decay=0.0,
                                 init="hinton", binarize="threshold", epochs=320, average_last_epochs=0),
}
_METHOD_HELP = {
    "pcd15": "the Theano tutorial's PCD-15: lr 0.1, minibatches of 20, as many chains, uniform W, 15 epochs",
    "cd1": "CD-1: lr 0.01, minibatches of 100, Hinton's initialisation, 30 epochs",
    "pcd1": "PCD-1 with 100 persistent chains: lr 0.01, minibatches of 100, Hinton's initialisation, 30 epochs",
    "likelihood": "centered PCD-1 (Melchior et al. 2016) with 100 chains, minibatches of 100, lr 0.04 "
                  "decaying linearly to 0, weight decay 5e-4, Hinton's initialisation, rows binarised "
                  "stochastically, 200 epochs, the mean of the last 10 epochs' parameters, 1,000 hidden units "
                  "(binary RBMs)",
    "likelihood-threshold": "centered PCD-1 with 100 chains, minibatches of 100, lr 0.02 decaying linearly to 0, "
                            "Hinton's initialisation, rows thresholded at 0.5, 320 epochs (binary RBMs)",
}
_MNIST_IMAGE = (28, 28)
#: the most filters filters.png shows (the first ones), as the tutorial's 10 x 10 grid
_MAX_FILTERS = 100


class UsageError(Exception):
    """Bad input found by the command line: reported on one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``UsageError``), never usage text and exit."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


class _HelpFormatter(argparse.HelpFormatter):
    """Fills each paragraph of a description or epilog to the terminal's width, keeping lists and commands.

    argparse's own formatter runs all paragraphs into one. Here paragraphs stay apart; an indented
    line ``  term   text`` is wrapped with its text column kept, and an indented command line
    (``  rbm ...``) is never wrapped, so it can be copied as it is.
    """

    def __init__(self, prog):
        super().__init__(prog, max_help_position=32)

    def _fill_text(self, text, width, indent):
        blocks = []
        for paragraph in text.split("\n\n"):
            if "\n  " not in "\n" + paragraph:  # plain prose
                blocks.append(textwrap.fill(" ".join(paragraph.split()), width, initial_indent=indent,
                                            subsequent_indent=indent))
                continue
            lines = []
            for line in paragraph.split("\n"):
                term = re.match(r"(  \S+\s+)\S", line)
                if line.startswith("  rbm ") or term is None:
                    lines.append(indent + line)
                else:
                    hanging = indent + " " * len(term.group(1))
                    lines.append(textwrap.fill(line[len(term.group(1)):], width, initial_indent=indent + term.group(1),
                                               subsequent_indent=hanging))
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)


# ---------------------------------------------------------------------- argument types
def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _real(text, low=None, low_inclusive=True):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or (low is not None and (value < low or (value == low and not low_inclusive))):
        relation = ">=" if low_inclusive else ">"
        raise argparse.ArgumentTypeError(f"must be a finite number {relation} {low}, got {text!r}")
    return value


def _positive_float(text):
    return _real(text, 0.0, low_inclusive=False)


def _non_negative_float(text):
    return _real(text, 0.0)


def _image_shape_type(text):
    """``HxW`` (e.g. 28x28) as (height, width)."""
    parts = text.lower().split("x")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH such as 28x28, got {text!r}")
    return tuple(_positive_int(part) for part in parts)


# ------------------------------------------------------------------------------ parser
def build_parser():
    """The ``rbm`` argument parser with its four subcommands."""
    # the module docstring without its list of commands, which argparse prints itself
    paragraphs = [text for text in __doc__.split("\n\n") if not text.startswith(("Commands", "  rbm"))]
    parser = _Parser(prog="rbm", description="\n\n".join(paragraphs), formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"rbm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_train(commands)
    _add_sample(commands)
    _add_evaluate(commands)
    _add_info(commands)
    return parser


def _common_run_options(group, seed_help):
    group.add_argument("--mode", default="cpu",
                       help="'cpu' (JAX on the CPU), 'gpu' (JAX on a GPU) or a PyTensor mode such as NUMBA "
                            "(default: %(default)s)")
    group.add_argument("--seed", type=_non_negative_int, default=123, metavar="N",
                       help=f"{seed_help} (default: %(default)s)")
    group.add_argument("--data-dir", default=None, metavar="DIR",
                       help="folder holding the four MNIST .gz files or mnist.pkl.gz, for DATA 'mnist' "
                            "(default: download into $RBM_DATA_DIR or ~/.cache/rbm)")


def _add_train(commands):
    width = max(map(len, _METHOD_HELP)) + 1
    methods = "\n".join(f"  {name:<{width}}{text}" for name, text in _METHOD_HELP.items())
    parser = commands.add_parser(
        "train", help="train an RBM on DATA; writes model.npz, training_curves.png and filters.png",
        formatter_class=_HelpFormatter,
        description="Train an RBM on DATA ('mnist' or a .npy, .npz or .csv file of rows) and write model.npz, "
                    "training_curves.png and filters.png into --out once training is done.\n\n"
                    f"--method picks a recipe; the options under 'method' override its values:\n{methods}",
        epilog="examples:\n"
               "  rbm train mnist --data-dir ~/mnist --out tutorial\n"
               "  rbm train mnist --method likelihood --out best --checkpoint ckpt.npz\n"
               "  rbm train mnist --method likelihood --out best --checkpoint ckpt.npz --resume\n"
               "  rbm train rows.csv --kind gaussian --method cd1 --lr 0.005 --out grbm")
    parser.add_argument("data", metavar="DATA", help="'mnist' or a .npy, .npz or .csv file, one row per example")
    model = parser.add_argument_group("model")
    model.add_argument("--kind", choices=sorted(KINDS), default="binary",
                       help="binary: Bernoulli visible units, rows in [0, 1]; gaussian: Gaussian visible units "
                            "of standard deviation 1 (standardise the columns first) (default: %(default)s)")
    model.add_argument("--n-hidden", type=_positive_int, metavar="N",
                       help="hidden units (default: that of --method: 1000 for likelihood, else 500)")
    model.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                       help="float type of the parameters (default: %(default)s)")
    method = parser.add_argument_group("method (defaults: those of --method)")
    method.add_argument("--method", choices=list(METHODS), default="pcd15",
                        help="the training recipe (default: %(default)s)")
    method.add_argument("--epochs", type=_positive_int, metavar="N", help="epochs of the whole run")
    method.add_argument("--batch-size", type=_positive_int, metavar="N", help="rows per minibatch")
    method.add_argument("--lr", type=_positive_float, metavar="RATE", help="learning rate")
    method.add_argument("--lr-schedule", choices=("constant", "linear"),
                        help="linear: from --lr down to 0 at the last epoch")
    method.add_argument("--k", type=_positive_int, metavar="K", help="Gibbs steps per update")
    method.add_argument("--persistent", action=argparse.BooleanOptionalAction,
                        help="persistent chains (PCD-k) or chains started at the data (CD-k)")
    method.add_argument("--n-chains", type=_positive_int, metavar="N",
                        help="persistent chains (PCD; default of pcd15: the minibatch size)")
    method.add_argument("--centering", action=argparse.BooleanOptionalAction,
                        help="centered RBM (binary; the saved model is the equivalent plain RBM)")
    method.add_argument("--momentum", type=_non_negative_float, metavar="M", help="momentum in [0, 1)")
    method.add_argument("--weight-decay", type=_non_negative_float, metavar="L2", help="L2 penalty on W")
    method.add_argument("--average-last-epochs", type=_non_negative_int, metavar="N",
                        help="end with the mean of the parameters at the ends of the last N epochs "
                             "(stochastic weight averaging; 0: the last parameters)")
    method.add_argument("--init", choices=("tutorial", "hinton"),
                        help="binary RBMs: tutorial (W uniform, zero biases) or hinton (W ~ N(0, 0.01^2), "
                             "visible biases from the data's means)")
    method.add_argument("--binarize", choices=("none", "threshold", "stochastic"),
                        help="binarise the rows first: threshold (> 0.5) or stochastic (1 with probability "
                             "the value, seeded)")
    data = parser.add_argument_group("data")
    data.add_argument("--valid", metavar="FILE", default=None,
                      help="validation rows for the free-energy gap curve (DATA 'mnist': its validation split)")
    data.add_argument("--subset", type=_positive_int, default=None, metavar="N", help="train on the first N rows only")
    data.add_argument("--image-shape", type=_image_shape_type, default=None, metavar="HxW",
                      help="how filters.png lays out a row (default: 28x28 for MNIST, else the most nearly "
                           "square factors of the row's length)")
    run = parser.add_argument_group("run and output")
    run.add_argument("--out", default="rbm_out", metavar="DIR",
                     help="folder for model.npz, training_curves.png and filters.png (default: %(default)s)")
    run.add_argument("--checkpoint", metavar="FILE", default=None,
                     help="write the whole training state to this .npz after every epoch")
    run.add_argument("--resume", action="store_true",
                     help="continue the run saved in --checkpoint FILE (same data and settings); --epochs "
                          "counts the whole run")
    _common_run_options(run, "seeds the initial weights and the Gibbs sampler")
    parser.set_defaults(run=run_train)


def _add_sample(commands):
    parser = commands.add_parser(
        "sample", help="draw samples from a model with Gibbs chains; writes a PNG",
        formatter_class=_HelpFormatter,
        description="Run Gibbs chains v -> h -> v in the model and write a PNG of their visible means "
                    "p(v | h), one column per chain, one row per kept step (every --plot-every steps), as "
                    "the Theano tutorial plots them. Chains start from random states, or from random rows "
                    "of --start DATA.",
        epilog="examples:\n"
               "  rbm sample out/model.npz --start mnist --out samples.png\n"
               "  rbm sample out/model.npz --n-chains 20 --n-samples 10 --plot-every 1000")
    parser.add_argument("model", metavar="MODEL", help="a model .npz file")
    parser.add_argument("--out", default="samples.png", metavar="FILE", help="the PNG to write (default: %(default)s)")
    parser.add_argument("--start", metavar="DATA", default=None,
                        help="start the chains at random rows of DATA ('mnist': test digits, or a .npy, .npz "
                             "or .csv file) instead of random states")
    parser.add_argument("--n-chains", type=_positive_int, default=10, metavar="N", help="chains (default: %(default)s)")
    parser.add_argument("--n-samples", type=_positive_int, default=10, metavar="N",
                        help="states kept per chain (default: %(default)s)")
    parser.add_argument("--plot-every", type=_positive_int, default=1000, metavar="STEPS",
                        help="Gibbs steps between kept states (default: %(default)s)")
    parser.add_argument("--image-shape", type=_image_shape_type, default=None, metavar="HxW",
                        help="how a row is drawn (default: 28x28 for 784 units, else the most nearly square "
                             "factors of the row's length)")
    _common_run_options(parser, "seeds the starting rows or states and the chains")
    parser.set_defaults(run=run_sample)


def _add_evaluate(commands):
    parser = commands.add_parser(
        "evaluate", help="average log-likelihood of DATA under a model (exact, or AIS and RAISE)",
        formatter_class=_HelpFormatter,
        description="Average log p(v) = -F(v) - log Z over DATA's rows, in nats (a log-density for a "
                    "Gaussian RBM). log Z is exact when the model is small enough to enumerate (2^k states "
                    f"with k = min(n_visible, n_hidden) for a binary RBM, k = n_hidden for a Gaussian one, "
                    f"k <= {evaluation.MAX_EXACT_UNITS}); otherwise it is estimated by AIS (Salakhutdinov & "
                    "Murray 2008), whose log-likelihood errs high, and RAISE (Burda et al. 2015) on a subset "
                    "of rows gives the conservative end of the bracket. The output says which was used.\n\n"
                    "AIS for a binary RBM anneals from independent units with the column means of the "
                    "scored rows (of the training digits for DATA 'mnist'); any such base model gives an "
                    "unbiased estimate of Z, and the closer it is to the model, the smaller the variance.",
        epilog="examples:\n"
               "  rbm evaluate out/model.npz mnist --binarize stochastic --data-dir ~/mnist\n"
               "  rbm evaluate out/model.npz test_rows.npy --method ais --ais-runs 100 --raise-rows 200")
    parser.add_argument("model", metavar="MODEL", help="a model .npz file")
    parser.add_argument("data", metavar="DATA", help="'mnist' (its test digits) or a .npy, .npz or .csv file")
    parser.add_argument("--method", choices=("auto", "exact", "ais"), default="auto",
                        help="auto: exact when the model is small enough, else AIS and RAISE (default: %(default)s)")
    parser.add_argument("--binarize", choices=("none", "threshold", "stochastic"), default="none",
                        help="binarise the rows first: log p(v) of a binary RBM is a probability only for "
                             "binary rows, so rows with other values are refused (default: %(default)s)")
    parser.add_argument("--ais-runs", type=_positive_int, default=100, metavar="N",
                        help="AIS runs (default: %(default)s)")
    parser.add_argument("--ais-betas", type=_positive_int, default=None, metavar="N",
                        help="evenly spaced AIS temperatures (default: the paper's schedule of 14,501)")
    parser.add_argument("--raise-rows", type=_non_negative_int, default=100, metavar="N",
                        help="rows (chosen at random) that RAISE scores; 0: no RAISE (default: %(default)s)")
    parser.add_argument("--raise-betas", type=_positive_int, default=None, metavar="N",
                        help="evenly spaced RAISE temperatures (default: AIS's schedule of 14,501, fine near beta = 1, "
                             "which gives a tighter bound than as many evenly spaced)")
    _common_run_options(parser, "seeds the annealing chains and the choice of RAISE rows")
    parser.set_defaults(run=run_evaluate)


def _add_info(commands):
    parser = commands.add_parser(
        "info", help="kind, shapes, dtype and parameter statistics of a model file",
        formatter_class=_HelpFormatter,
        description="Describe a model file: its kind (binary RBM or Gaussian-Bernoulli RBM), numbers of "
                    "visible and hidden units, dtype, each parameter's shape, range, mean and standard "
                    "deviation, and whether its log Z can be computed exactly.")
    parser.add_argument("model", metavar="MODEL", help="a model .npz file")
    parser.set_defaults(run=run_info)


# ---------------------------------------------------------------------------- entry point
def main(argv=None):
    """Run the ``rbm`` command.

    Parameters
    ----------
    argv : list of str, optional
        The command's words after ``rbm`` (``sys.argv[1:]`` when None).

    Returns
    -------
    int
        The exit status: 0 on success, 1 when training diverged, 2 for a bad
        argument or file, 130 when interrupted.
    """
    parser = build_parser()
    called_as_program = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args, unknown = parser.parse_known_args(argv)
    except SystemExit as done:  # --help and --version print, then exit
        return done.code if isinstance(done.code, int) else EXIT_OK
    except UsageError as error:
        return _report(_prog(argv), error)
    prog = f"rbm {args.command}"
    if unknown:  # reported here rather than by argparse, which would name 'rbm' instead of the command
        return _report(prog, f"unrecognized arguments: {' '.join(unknown)} (see '{prog} --help')")
    try:
        return args.run(args)
    except (UsageError, ValueError, OSError) as error:
        return _report(prog, error)
    except TrainingDiverged as error:
        return _report(prog, error, EXIT_FAILED)
    except KeyboardInterrupt:
        message = "interrupted"
        checkpoint = getattr(args, "checkpoint", None)
        if checkpoint is not None and os.path.isfile(checkpoint):
            message += f"; {checkpoint} holds the last finished epoch: add --resume to continue"
        print(f"\n{prog}: {message}", file=sys.stderr, flush=True)
        if called_as_program:
            # Stopped inside JAX's compiler, the interpreter's clean-up at exit can crash (measured: a
            # segmentation fault, exit status 139); every file rbm writes is complete (written atomically),
            # so leave without it.
            sys.stdout.flush()
            os._exit(EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED


def _prog(argv):
    """'rbm COMMAND' for the first known command in ``argv``, else 'rbm'."""
    command = next((word for word in argv if not word.startswith("-")), None)
    return f"rbm {command}" if command in ("train", "sample", "evaluate", "info") else "rbm"


def _report(prog, error, status=EXIT_BAD_INPUT):
    """Print ``prog: error: message`` on one line of stderr; returns ``status``."""
    message = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        message = f"{error.filename!r}: {error.strerror}"  # without the [Errno n] prefix
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    return status


def _say(text):
    print(text, flush=True)


# -------------------------------------------------------------------------- reading input
def load_model(path):
    """The model in ``path``: an :class:`rbm.RBM` or :class:`rbm.GaussianBernoulliRBM`, as the file's kind says."""
    if not os.path.isfile(path):
        raise UsageError(f"model file {path!r} does not exist")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise UsageError(f"{path!r} is not a readable model file (truncated or corrupted?): {error}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise UsageError(f"{path!r} holds a bare array, not a model file (.npz written by rbm train or RBM.save)")
    with archive:
        try:
            kind = str(archive["kind"]) if "kind" in archive.files else None
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise UsageError(f"{path!r} is not a readable model file (truncated or corrupted?): {error}") from None
    if kind not in MODEL_CLASSES:
        found = "no 'kind' entry" if kind is None else f"kind {kind!r}"
        raise UsageError(f"{path!r} is not a model file: it has {found}, not one of {sorted(MODEL_CLASSES)}")
    return MODEL_CLASSES[kind].load(path)


def _read_array_file(path):
    """The 2-D float array in a .npy, .npz (its only array, or the one named X) or .csv file."""
    extension = os.path.splitext(path)[1].lower()
    if extension not in (".npy", ".npz", ".csv"):
        raise UsageError(f"DATA must be 'mnist' or a .npy, .npz or .csv file, got {path!r}")
    if not os.path.isfile(path):
        raise UsageError(f"data file {path!r} does not exist")
    try:
        if extension == ".csv":
            array = _read_csv(path)
        else:
            loaded = np.load(path, allow_pickle=False)
            if isinstance(loaded, np.lib.npyio.NpzFile):
                with loaded:
                    array = _array_of_npz(path, loaded)
            else:
                array = loaded
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise UsageError(f"{path!r} could not be read (truncated or corrupted?): {error}") from None
    if array.ndim != 2:
        raise UsageError(f"{path!r} holds a {array.ndim}-D array of shape {array.shape}; DATA needs a 2-D "
                         "array, one row per example")
    if array.dtype == bool:
        array = array.astype(np.float64)
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise UsageError(f"{path!r} holds {array.dtype} values, not numbers")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise UsageError(f"{path!r} holds an empty array of shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise UsageError(f"{path!r} holds NaN or infinite values")
    return array


def _read_csv(path):
    """Rows of a comma-separated file of numbers, with or without one header line."""
    try:
        return np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError:
        return np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64, skiprows=1)


def _array_of_npz(path, archive):
    names = archive.files
    if len(names) == 1:
        return archive[names[0]]
    if "X" in names:
        return archive["X"]
    raise UsageError(f"{path!r} holds the arrays {names}: DATA in an .npz is its only array or the one named X")


def _read_mnist(args):
    try:
        return load_mnist(args.data_dir, seed=args.seed)
    except FileNotFoundError as error:
        raise UsageError(str(error)) from None


def _binarized(rows, method, seed):
    return rows if method in (None, "none") else binarize(rows, method, seed)


def _check_rows(model, rows, source):
    """``rows`` as the model's visible vectors (width, and [0, 1] for a binary RBM), the file named on error."""
    try:
        return model.check_data(rows, repr(source))
    except (ValueError, TypeError) as error:
        raise UsageError(str(error)) from None


def _check_binary_rows(rows, source):
    """``rows`` checked to lie in [0, 1], the file named on error."""
    try:
        return check_data(rows, name=repr(source))
    except ValueError as error:
        raise UsageError(str(error)) from None


def _check_mode(mode):
    try:
        backend.resolve_mode(mode)
    except (ValueError, TypeError, ImportError, RuntimeError) as error:
        raise UsageError(f"--mode: {error}") from None


def _check_png_path(path):
    if not path.lower().endswith(".png"):
        raise UsageError(f"--out must be a .png file, got {path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"the folder of --out {path!r} does not exist")


def _check_out_folder(path):
    """Refuse an --out that cannot become a folder, before any work is done (it is created at the end)."""
    path = os.path.abspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"--out {path!r} exists and is not a folder")
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"--out {path!r} cannot be written: {existing!r} is not a writable folder")


def image_shape(n_visible, given=None):
    """(height, width) for drawing a row of ``n_visible`` values: ``given``, 28x28 for 784, else near-square factors."""
    if given is not None:
        if given[0] * given[1] != n_visible:
            raise UsageError(f"--image-shape {given[0]}x{given[1]} has {given[0] * given[1]} pixels but the "
                             f"model has {n_visible} visible units")
        return tuple(given)
    if n_visible == _MNIST_IMAGE[0] * _MNIST_IMAGE[1]:
        return _MNIST_IMAGE
    height = math.isqrt(n_visible)
    while n_visible % height:
        height -= 1
    return height, n_visible // height


def _pixel_scale(shape):
    """Enlarge small images so each tile is ~32 pixels wide (1 for MNIST's 28 x 28)."""
    return max(1, 32 // max(shape))


# ------------------------------------------------------------------------------- train
def _method_settings(args):
    """The --method preset's settings with the options given on the command line put over them."""
    settings = dict(METHODS[args.method])
    explicit = {name for name in settings if getattr(args, name, None) is not None}
    for name in explicit:
        settings[name] = getattr(args, name)
    if not settings["persistent"] and "n_chains" not in explicit:
        settings["n_chains"] = None  # the preset's chain count belongs to its persistent chains
    if args.kind == "gaussian":
        for name, default in (("init", "tutorial"), ("binarize", "none")):
            if name in explicit and settings[name] != default:
                raise UsageError(f"--{name} {settings[name]} applies to binary RBMs, not --kind gaussian")
            settings[name] = default  # a GaussianBernoulliRBM starts with W ~ N(0, 0.01^2), zero biases
    if settings["momentum"] >= 1:
        raise UsageError(f"--momentum must be < 1, got {settings['momentum']}")
    return settings


def _describe_method(settings, kind):
    name = "PCD" if settings["persistent"] else "CD"
    text = f"{'centered ' if settings['centering'] else ''}{name}-{settings['k']}, lr {settings['lr']:g}"
    if settings["lr_schedule"] == "linear":
        text += " decaying linearly to 0"
    text += f", minibatches of {settings['batch_size']}"
    if settings["persistent"]:
        text += f", {settings['n_chains'] or settings['batch_size']} chains"
    if settings["momentum"]:
        text += f", momentum {settings['momentum']:g}"
    if settings["weight_decay"]:
        text += f", weight decay {settings['weight_decay']:g}"
    if settings["average_last_epochs"]:
        text += f", parameters averaged over the last {settings['average_last_epochs']} epochs"
    if kind == "binary":
        text += f", {settings['init']} init"
    if settings["binarize"] != "none":
        text += f", rows binarised ({settings['binarize']})"
    return text


def _training_rows(args, settings):
    """(training rows, validation rows or None, description, default image shape or None)."""
    if args.data == "mnist":
        mnist = _read_mnist(args)
        train, valid, source = mnist.train.X, mnist.valid.X, "MNIST training digits"
        if args.valid is not None:
            raise UsageError("--valid: DATA 'mnist' brings its own validation digits")
        shape = _MNIST_IMAGE
    else:
        train, source = _read_array_file(args.data), args.data
        valid = None if args.valid is None else _read_array_file(args.valid)
        shape = None
    if args.subset is not None:
        train = train[: args.subset]
    if valid is not None and valid.shape[1] != train.shape[1]:
        raise UsageError(f"--valid {args.valid!r} has {valid.shape[1]} columns but DATA has {train.shape[1]}")
    if args.kind == "binary":  # rows in [0, 1], checked (and the file named) before binarising or training
        train = _binarized(_check_binary_rows(train, source), settings["binarize"], args.seed)
        if valid is not None:
            valid = _binarized(_check_binary_rows(valid, args.valid), settings["binarize"], args.seed + 1)
    return train, valid, source, shape


def _new_model(args, settings, train):
    if args.kind == "gaussian":
        return GaussianBernoulliRBM(n_visible=train.shape[1], n_hidden=settings["n_hidden"], numpy_rng=args.seed,
                                    seed=args.seed, dtype=args.dtype)
    if settings["init"] == "hinton":
        return RBM.from_data(train, n_hidden=settings["n_hidden"], numpy_rng=args.seed, seed=args.seed,
                             dtype=args.dtype)
    return RBM(n_visible=train.shape[1], n_hidden=settings["n_hidden"], numpy_rng=np.random.RandomState(args.seed),
               seed=args.seed, dtype=args.dtype)


def run_train(args):
    """``rbm train``: check everything, train, then write the filters, the curves and the model."""
    settings = _method_settings(args)
    _check_mode(args.mode)
    _check_out_folder(args.out)
    if args.resume and args.checkpoint is None:
        raise UsageError("--resume continues from --checkpoint FILE: give the checkpoint file")
    if args.checkpoint is not None:
        if not args.checkpoint.endswith(".npz"):
            raise UsageError(f"--checkpoint must be an .npz file, got {args.checkpoint!r}")
        if args.resume and not os.path.isfile(args.checkpoint):
            raise UsageError(f"--resume: the checkpoint {args.checkpoint!r} does not exist")
        if not os.path.isdir(os.path.dirname(os.path.abspath(args.checkpoint))):
            raise UsageError(f"the folder of --checkpoint {args.checkpoint!r} does not exist")
    train, valid, source, default_shape = _training_rows(args, settings)
    shape = image_shape(train.shape[1], args.image_shape or default_shape)
    kind = "binary" if args.kind == "binary" else "Gaussian-Bernoulli"
    if settings["batch_size"] > len(train):
        raise UsageError(f"--batch-size {settings['batch_size']} is larger than the {len(train)} rows of {source}")
    model = _new_model(args, settings, train)
    learning_rate = (schedules.linear(settings["lr"], 0.0, settings["epochs"])
                     if settings["lr_schedule"] == "linear" else settings["lr"])
    trainer = Trainer(model, learning_rate=learning_rate, k=settings["k"], persistent=settings["persistent"],
                      batch_size=settings["batch_size"], n_chains=settings["n_chains"],
                      momentum=settings["momentum"], weight_decay=settings["weight_decay"],
                      centering=settings["centering"], mode=args.mode, seed=args.seed,
                      average_last_epochs=settings["average_last_epochs"] or None)
    _say(f"{kind} RBM, {model.n_visible} visible x {model.n_hidden} hidden units, {args.dtype}, on "
         f"{len(train)} rows of {source}: {_describe_method(settings, args.kind)}, {settings['epochs']} epochs, "
         f"mode {args.mode}")
    if args.resume:
        _say(f"resuming from {args.checkpoint}")
    history = trainer.fit(train, epochs=settings["epochs"], valid=valid, checkpoint=args.checkpoint,
                          resume=args.checkpoint if args.resume else None)
    title = f"{kind} RBM, {model.n_visible} x {model.n_hidden}, {args.method} on {source}"
    _write_training_outputs(args.out, model, history, shape, _cost_name(model, settings), title)
    return EXIT_OK


def _cost_name(model, settings):
    if model.visible.pseudo_likelihood and settings["persistent"]:
        return "pseudo-likelihood"
    return model.visible.reconstruction_cost_name.replace(" ", "\n", 1)


def _write_training_outputs(folder, model, history, shape, cost_name, title):
    """filters.png, training_curves.png (when matplotlib is there), then model.npz, each atomically."""
    os.makedirs(folder, exist_ok=True)
    written = []
    n_filters = min(model.n_hidden, _MAX_FILTERS)
    columns = math.ceil(math.sqrt(n_filters))
    filters = tile_raster_images(model.W.get_value(borrow=True).T[:n_filters], img_shape=shape,
                                 tile_shape=(math.ceil(n_filters / columns), columns), tile_spacing=(1, 1))
    save_image(filters, os.path.join(folder, "filters.png"), scale=_pixel_scale(shape))
    written.append("filters.png")
    if importlib.util.find_spec("matplotlib") is None:
        _say("matplotlib is not installed, so no training_curves.png (pip install 'rbm[plots]')")
    else:
        epochs = [record["epoch"] for record in history]
        curves = {cost_name: (epochs, [record["cost"] for record in history])}
        gaps = [(record["epoch"], record["free_energy_gap"]) for record in history if "free_energy_gap" in record]
        if gaps:
            curves["free-energy gap\n(valid - train)"] = tuple(zip(*gaps))
        plot_curves(os.path.join(folder, "training_curves.png"), curves, title=title)
        written.append("training_curves.png")
    model.save(os.path.join(folder, "model.npz"))
    written.append("model.npz")
    _say(f"wrote {', '.join(written)} to {folder}")


# ------------------------------------------------------------------------------ sample
def run_sample(args):
    """``rbm sample``: chains from random states or data rows, kept every --plot-every steps, as one PNG."""
    _check_mode(args.mode)
    _check_png_path(args.out)
    model = load_model(args.model)
    default_shape = None
    rng = np.random.default_rng(args.seed)
    if args.start is None:
        # the visible layer's base model without data: fair coins, or each unit's own Gaussian
        vbias = np.asarray(model.vbias.get_value(borrow=True), dtype=np.float64)
        start = model.visible.sample_base(model.visible.base_bias_from_data(None), vbias, args.n_chains, rng)
        origin = "random states"
    else:
        if args.start == "mnist":
            rows, default_shape, source = _read_mnist(args).test.X, _MNIST_IMAGE, "MNIST test digits"
        else:
            rows, source = _read_array_file(args.start), args.start
        rows = _check_rows(model, rows, source)
        start = rows[np.sort(rng.choice(len(rows), size=min(args.n_chains, len(rows)), replace=False))]
        origin = f"random rows of {source}"
    shape = image_shape(model.n_visible, args.image_shape or default_shape)
    _say(f"{len(start)} chains from {origin}, {args.n_samples} states kept every {args.plot_every} Gibbs steps, "
         f"mode {args.mode}")
    samples = sample_chains(model, start, n_samples=args.n_samples, plot_every=args.plot_every, mode=args.mode,
                            seed=args.seed)
    binary = model.visible.unit_interval
    tiles = tile_raster_images(samples.reshape(-1, model.n_visible_units), img_shape=shape,
                               tile_shape=(args.n_samples, len(start)), tile_spacing=(1, 1),
                               scale_rows_to_unit_interval=not binary)
    save_image(tiles, args.out, scale=_pixel_scale(shape))
    _say(f"wrote {args.out}: one column per chain, one row per kept state"
         + ("" if binary else " (each image scaled to its own range)"))
    return EXIT_OK


# ---------------------------------------------------------------------------- evaluate
def run_evaluate(args):
    """``rbm evaluate``: exact log Z when small enough (or asked), else AIS with a RAISE subset."""
    _check_mode(args.mode)
    model = load_model(args.model)
    states = min(2 ** model.n_hidden, model.visible.n_states())
    if args.method == "exact" and states > 2 ** evaluation.MAX_EXACT_UNITS:
        raise UsageError(f"--method exact would enumerate {_state_count(states)} states, more than the limit of "
                         f"2^{evaluation.MAX_EXACT_UNITS}: use --method ais")
    if args.data == "mnist":
        mnist = _read_mnist(args)
        rows, base_rows, source = mnist.test.X, mnist.train.X, "MNIST test digits"
    else:
        rows = base_rows = _read_array_file(args.data)
        source = args.data
    binary_units = model.visible.binarizable  # what --binarize and the 0/1 check are about
    if not binary_units and args.binarize != "none":
        raise UsageError(f"--binarize applies to binary visible units, not to {model.visible!r} units")
    rows = _binarized(_check_rows(model, rows, source), args.binarize, args.seed + 1)
    if binary_units:
        if not np.all((rows == 0) | (rows == 1)):
            raise UsageError(f"{source!r} holds values other than 0 and 1; log p(v) of a binary RBM is a "
                             "probability only for binary rows: pass --binarize threshold or stochastic")
        base_rows = _binarized(_check_rows(model, base_rows, source), args.binarize, args.seed)
    exact = args.method == "exact" or (args.method == "auto" and states <= 2 ** evaluation.MAX_EXACT_UNITS)
    _say(f"{type(model).__name__}: {model.n_visible} visible x {model.n_hidden} hidden units, {model.dtype}; "
         f"scoring {len(rows)} rows of {source}")
    if exact:
        _report_exact(model, rows, states)
    else:
        # real-valued units anneal from their own Gaussians, discrete ones from the data's base rates
        _report_ais(model, rows, base_rows if model.visible.unit_interval else None, args)
    return EXIT_OK


def _state_count(states):
    """2^k for a power of two (binary layers), else the number (categorical ones)."""
    return f"2^{states.bit_length() - 1}" if states & (states - 1) == 0 else f"{states:,}"


def _report_exact(model, rows, states):
    layer = "hidden" if 2 ** model.n_hidden <= model.visible.n_states() else "visible"
    result = evaluation.exact_log_partition(model)
    log_z = float(getattr(result, "log_z", result))  # a result with .log_z (a bare float in older rbm)
    _say(f"log Z = {log_z:.4f} (exact: summed over the {_state_count(states)} {layer} states)")
    _say(f"average log-likelihood: {evaluation.mean_log_likelihood(model, rows, log_z):.4f} nats per row (exact)")


def _report_ais(model, rows, base_rows, args):
    """AIS for log Z (the high end), then RAISE on a random subset (the conservative end), as the example does."""
    betas = None if args.ais_betas is None else np.linspace(0.0, 1.0, max(args.ais_betas, 2))
    result = evaluation.ais_log_partition(model, n_runs=max(args.ais_runs, 2), betas=betas, base_rate=base_rows,
                                          seed=args.seed, mode=args.mode)
    _say(f"log Z = {result.log_z:.4f} (AIS: {result.n_runs} runs, {result.n_betas:,} temperatures, "
         f"{result.seconds:.1f} s; +-3 sd: {result.log_z_low:.4f} .. {result.log_z_high:.4f})")
    average = evaluation.mean_log_likelihood(model, rows, result.log_z)
    _say(f"average log-likelihood: {average:.4f} nats per row (AIS; errs high)")
    n_raise = min(args.raise_rows, len(rows))
    if n_raise == 0:
        return
    chosen = np.random.default_rng(args.seed).permutation(len(rows))[:n_raise]
    raise_betas = None if args.raise_betas is None else np.linspace(0.0, 1.0, max(args.raise_betas, 2))
    raised = evaluation.raise_log_likelihood(model, rows[chosen], betas=raise_betas,
                                             base_rate=base_rows, seed=args.seed, mode=args.mode)
    # The whole set's conservative figure: AIS's plus the mean RAISE - AIS difference on the subset, which
    # varies far less from row to row than log p itself.
    differences = raised.per_row - (-evaluation.free_energy(model, rows[chosen]) - result.log_z)
    low = average + differences.mean()
    error = f"+-{differences.std(ddof=1) / np.sqrt(n_raise):.4f}" if n_raise > 1 else "one row, no standard error"
    _say(f"RAISE on {n_raise} rows ({raised.n_betas:,} temperatures, {raised.seconds:.1f} s): mean log p "
         f"{raised.log_likelihood:.4f} nats (AIS on the same rows {raised.log_likelihood - differences.mean():.4f})")
    _say(f"average log-likelihood bracket: {low:.4f} (RAISE, conservative, {error}) .. {average:.4f} (AIS) nats")
    if low > average:
        _say("note: RAISE lies above AIS here, so the two do not bracket the log-likelihood; more temperatures "
             "(--ais-betas, --raise-betas) usually bring them together")


# -------------------------------------------------------------------------------- info
def run_info(args):
    """``rbm info``: what the model file holds."""
    model = load_model(args.model)
    description = f"{model.visible!r} visible units, {model.hidden!r} hidden units"
    _say(f"file: {args.model} ({os.path.getsize(args.model):,} bytes)")
    _say(f"kind: {model.FILE_KIND} ({description})")
    _say(f"units: {model.n_visible} visible x {model.n_hidden} hidden")
    _say(f"dtype: {model.dtype}")
    settings = model.get_settings() if hasattr(model, "get_settings") else {}
    if settings:
        _say("settings: " + ", ".join(f"{name}={value}" for name, value in settings.items()))
    params = model.get_params()
    if "log_sigma" in params:
        params["sigma"] = np.exp(params.pop("log_sigma"))
    _say(f"{'parameter':<10} {'shape':<12} {'min':>10} {'max':>10} {'mean':>10} {'std':>10}")
    for name, value in params.items():
        value = np.asarray(value, dtype=np.float64)
        _say(f"{name:<10} {str(value.shape):<12} {value.min():>10.4g} {value.max():>10.4g} {value.mean():>10.4g} "
             f"{value.std():>10.4g}")
    states = min(2 ** model.n_hidden, model.visible.n_states())
    if states <= 2 ** evaluation.MAX_EXACT_UNITS:
        _say(f"log Z: exact ({_state_count(states)} states to enumerate; rbm evaluate does it)")
    else:
        _say(f"log Z: by AIS ({_state_count(states)} states are too many to enumerate; the limit is "
             f"2^{evaluation.MAX_EXACT_UNITS})")
    return EXIT_OK
