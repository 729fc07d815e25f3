"""The rbm command line: train, sample, evaluate and info on tiny models, and its refusals of bad input.

Commands run in-process through ``rbm.cli.main`` and the module shares one trained model, to keep
compilation to a few functions; ``python -m rbm --help`` and the ``rbm`` console script run once each
as subprocesses.
"""
import contextlib
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from scipy.special import logsumexp

from rbm import RBM, cli

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "mnist_rbm.py")
# FAST_COMPILE's C code says where it finds no BLAS; these tiny models do not need one
pytestmark = pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning")
N_ROWS, N_VISIBLE, N_HIDDEN, EPOCHS = 20, 16, 8, 2
#: a 4 x 4 image per row; the CLI enlarges tiles of such small images 32 // 4 = 8 times
IMAGE_SIDE, SCALE = 4, 8
#: most commands compile in PyTensor's FAST_COMPILE mode, whose cached C code compiles these tiny graphs in
#: about a second where JAX (the default, "cpu") takes 5 to 20 s on the 2-core CI machine; AIS runs on "cpu"
QUICK = ["--mode", "FAST_COMPILE"]
TRAIN = ["--n-hidden", str(N_HIDDEN), "--epochs", str(EPOCHS), "--batch-size", "10", "--k", "1", "--seed", "7",
         *QUICK]


def bars(n_rows, seed):
    """Rows of 4 x 4 images, each one horizontal or vertical bar: binary data with structure to learn."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n_rows, IMAGE_SIDE, IMAGE_SIDE))
    for image, position, vertical in zip(images, rng.integers(IMAGE_SIDE, size=n_rows), rng.random(n_rows) < 0.5):
        if vertical:
            image[:, position] = 1
        else:
            image[position, :] = 1
    return images.reshape(n_rows, N_VISIBLE)


def run(argv):
    """(exit status, stdout, stderr) of ``rbm argv`` run in-process, streams captured (not terminals)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main([str(word) for word in argv])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny binary RBM trained by ``rbm train`` with a checkpoint; its data, files and output."""
    folder = tmp_path_factory.mktemp("cli")
    data = folder / "bars.npy"
    np.save(data, bars(N_ROWS, seed=0))
    status, out, err = run(["train", data, *TRAIN, "--out", folder / "out", "--checkpoint", folder / "run.ckpt.npz"])
    return dict(folder=folder, data=data, out=folder / "out", model=folder / "out" / "model.npz",
                checkpoint=folder / "run.ckpt.npz", status=status, stdout=out, stderr=err)


@pytest.fixture(scope="module")
def true_log_z(trained):
    """The trained model's log Z by brute force (computed once: ~2 s)."""
    params = model_arrays(trained["model"])
    return brute_force_log_z(params["W"], params["hbias"], params["vbias"])


def brute_force_log_z(W, hbias, vbias):
    """log Z of a binary RBM by summing exp(-E(v, h)) over every v and h (2^16 x 2^8 states, in blocks of v)."""
    n_visible, n_hidden = W.shape
    hidden = (np.arange(2 ** n_hidden)[:, None] >> np.arange(n_hidden)) & 1
    terms = []
    for start in range(0, 2 ** n_visible, 4096):
        visible = (np.arange(start, start + 4096)[:, None] >> np.arange(n_visible)) & 1
        minus_energy = (visible @ vbias)[:, None] + (hidden @ hbias)[None, :] + visible @ W @ hidden.T
        terms.append(logsumexp(minus_energy))
    return logsumexp(terms)


def model_arrays(path):
    with np.load(path) as archive:
        return {name: archive[name].astype(np.float64) for name in ("W", "hbias", "vbias")}


def number_after(label, text):
    return float(re.search(re.escape(label) + r"\s*(-?[0-9.]+)", text).group(1))


# ------------------------------------------------------------------------------ train
def test_train_writes_the_model_the_curves_and_the_filters(trained):
    assert trained["status"] == 0, trained["stderr"]
    assert sorted(os.listdir(trained["out"])) == ["filters.png", "model.npz", "training_curves.png"]
    W = model_arrays(trained["model"])["W"]
    assert W.shape == (N_VISIBLE, N_HIDDEN)
    filters = np.asarray(Image.open(trained["out"] / "filters.png"))
    # 8 filters in a 3 x 3 grid of 4 x 4 tiles, one pixel apart, each pixel drawn SCALE x SCALE
    assert filters.shape == ((3 * (IMAGE_SIDE + 1) - 1) * SCALE,) * 2 and filters.std() > 0
    assert Image.open(trained["out"] / "training_curves.png").size[0] > 100


def test_a_log_gets_one_line_per_epoch_and_no_progress_bar(trained):
    # stdout and stderr are not terminals here: no bar redraws, just the epochs' lines
    assert trained["stderr"] == ""
    epoch_lines = [line for line in trained["stdout"].splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epoch_lines] == [f"epoch {e}" for e in range(EPOCHS)]
    assert "\r" not in trained["stdout"]


class _Terminal(io.StringIO):
    """A captured stream that says it is a terminal, so tqdm draws its bar on it."""

    def isatty(self):
        return True


def test_resume_continues_the_checkpointed_run_and_bars_draw_on_a_terminal(trained, tmp_path):
    """--resume with --epochs 3 after the fixture's two epochs trains epoch 2 only, from the saved state.

    That the continuation is bit for bit an uninterrupted run's is rbm.Trainer's promise, tested in
    tests/training; here the command must hand over the checkpoint and count epochs over the whole run.
    """
    checkpoint = tmp_path / "run.ckpt.npz"
    shutil.copy(trained["checkpoint"], checkpoint)
    out, terminal = io.StringIO(), _Terminal()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(terminal):
        status = cli.main([str(word) for word in ["train", trained["data"], *TRAIN, "--epochs", EPOCHS + 1,
                                                  "--out", tmp_path / "resumed", "--checkpoint", checkpoint,
                                                  "--resume"]])
    assert status == 0, terminal.getvalue()
    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines if line.startswith("epoch ")] == [f"epoch {EPOCHS}"]
    assert "batch" in terminal.getvalue() and "\r" in terminal.getvalue()  # tqdm's bar, drawn on a terminal
    resumed, before = model_arrays(tmp_path / "resumed" / "model.npz"), model_arrays(trained["model"])
    assert not np.array_equal(resumed["W"], before["W"])  # one more epoch of updates
    with np.load(checkpoint) as archive:
        assert int(archive["epoch"]) == EPOCHS + 1  # the checkpoint now records the third epoch's end


def test_gaussian_rbm_trains_and_evaluates_exactly(tmp_path):
    data = np.random.default_rng(1).standard_normal((N_ROWS, N_VISIBLE))
    np.save(tmp_path / "real.npy", data)
    status, out, err = run(["train", tmp_path / "real.npy", "--kind", "gaussian", "--method", "cd1", *TRAIN,
                            "--lr", "0.01", "--out", tmp_path / "out"])
    assert status == 0, err
    assert out.startswith("Gaussian-Bernoulli RBM, 16 visible x 8 hidden")
    status, out, err = run(["info", tmp_path / "out" / "model.npz"])
    assert status == 0 and "rbm.GaussianBernoulliRBM" in out and re.search(r"^sigma\s+\(16,\)", out, re.M)
    status, out, err = run(["evaluate", tmp_path / "out" / "model.npz", tmp_path / "real.npy"])
    assert status == 0, err
    # log p(v) = log sum_h exp(-E(v, h)) - log Z with E = |v - b|^2 / 2 - c.h - v.(W h) (sigma 1, as trained);
    # integrating v out of exp(-E) per unit gives sqrt(2 pi) exp(b_i u_i + u_i^2 / 2), u = W h
    params = model_arrays(tmp_path / "out" / "model.npz")
    W, hbias, vbias = params["W"], params["hbias"], params["vbias"]
    hidden = (np.arange(2 ** N_HIDDEN)[:, None] >> np.arange(N_HIDDEN)) & 1
    u = hidden @ W.T
    log_z = logsumexp(hidden @ hbias + (vbias * u + u ** 2 / 2).sum(axis=1)) + N_VISIBLE * np.log(np.sqrt(2 * np.pi))
    minus_energy = -((data - vbias) ** 2).sum(axis=1)[:, None] / 2 + (hidden @ hbias)[None, :] + data @ W @ hidden.T
    expected = np.mean(logsumexp(minus_energy, axis=1)) - log_z
    assert "(exact" in out
    assert number_after("log Z =", out) == pytest.approx(log_z, abs=1e-4)  # printed with 4 decimals
    assert number_after("average log-likelihood:", out) == pytest.approx(expected, abs=1e-4)


# ----------------------------------------------------------------------------- sample
@pytest.mark.parametrize("start", ["random", "data"])
def test_sample_writes_one_tile_per_chain_and_kept_state(trained, tmp_path, start):
    picture = tmp_path / "samples.png"
    extra = [] if start == "random" else ["--start", trained["data"]]
    status, out, err = run(["sample", trained["model"], "--out", picture, "--n-chains", 3, "--n-samples", 2,
                            "--plot-every", 5, *extra, *QUICK])
    assert status == 0, err
    assert ("random states" if start == "random" else "random rows of") in out
    image = np.asarray(Image.open(picture))
    # rows: kept states, columns: chains; 4 x 4 tiles one pixel apart, enlarged SCALE times
    assert image.shape == ((2 * 5 - 1) * SCALE, (3 * 5 - 1) * SCALE) and image.std() > 0


# --------------------------------------------------------------------------- evaluate
def test_evaluate_is_exact_for_a_small_model(trained, true_log_z):
    status, out, err = run(["evaluate", trained["model"], trained["data"]])
    assert status == 0, err
    params, log_z = model_arrays(trained["model"]), true_log_z
    data = np.load(trained["data"])
    free_energy = -data @ params["vbias"] - np.logaddexp(0, data @ params["W"] + params["hbias"]).sum(axis=1)
    assert "(exact: summed over the 2^8 hidden states)" in out
    assert number_after("log Z =", out) == pytest.approx(log_z, abs=1e-4)  # printed with 4 decimals
    assert number_after("average log-likelihood:", out) == pytest.approx(np.mean(-free_energy) - log_z, abs=1e-4)


def test_evaluate_reads_csv_with_a_header_and_npz(trained, tmp_path):
    data = np.load(trained["data"])
    np.savetxt(tmp_path / "rows.csv", data, delimiter=",", header=",".join(f"x{i}" for i in range(N_VISIBLE)),
               comments="")
    np.savez(tmp_path / "rows.npz", X=data, y=np.arange(N_ROWS))
    outputs = [run(["evaluate", trained["model"], path])
               for path in (trained["data"], tmp_path / "rows.csv", tmp_path / "rows.npz")]
    assert [status for status, _, _ in outputs] == [0, 0, 0]
    averages = {number_after("average log-likelihood:", out) for _, out, _ in outputs}
    assert len(averages) == 1


def test_evaluate_by_ais_brackets_the_true_log_z(trained, true_log_z):
    status, out, err = run(["evaluate", trained["model"], trained["data"], "--method", "ais", "--ais-runs", 100,
                            "--ais-betas", 1000, "--raise-rows", 5, "--raise-betas", 300])
    assert status == 0, err
    low, high = (float(x) for x in re.search(r"\+-3 sd: (-?[0-9.]+|-inf) \.\. (-?[0-9.]+)", out).groups())
    # the interval is mean weight +- 3 standard errors over the 100 runs: an unbiased estimator of Z misses it
    # with probability ~0.3%, and 1,000 temperatures leave this 16 x 8 model's AIS bias far below its width
    assert low <= true_log_z <= high
    assert "RAISE on 5 rows (300 temperatures" in out and "average log-likelihood bracket:" in out


# ------------------------------------------------------------------------------- info
def test_info_describes_kind_shapes_dtype_and_parameters(trained):
    status, out, err = run(["info", trained["model"]])
    assert status == 0, err
    assert "kind: rbm.RBM" in out and "units: 16 visible x 8 hidden" in out and "dtype: float32" in out
    W = model_arrays(trained["model"])["W"]
    row = next(line for line in out.splitlines() if line.startswith("W "))
    assert row.split()[-4:] == [f"{W.min():.4g}", f"{W.max():.4g}", f"{W.mean():.4g}", f"{W.std():.4g}"]
    assert "log Z: exact" in out


# -------------------------------------------------------------------------- bad input
def bad_inputs(folder, data, model, checkpoint):
    """(name, argv, paths that must not exist afterwards) for each kind of bad input."""
    np.save(folder / "wide.npy", np.zeros((N_ROWS, N_VISIBLE + 1)))
    np.save(folder / "grey.npy", np.full((N_ROWS, N_VISIBLE), 0.5))
    np.save(folder / "large.npy", np.full((N_ROWS, N_VISIBLE), 2.0))
    np.save(folder / "vector.npy", np.zeros(N_VISIBLE))
    (folder / "corrupt.npz").write_bytes(model.read_bytes()[:300])
    (folder / "text.csv").write_text("a,b\nc,d\n")
    RBM(n_visible=26, n_hidden=26, seed=0).save(folder / "large_model.npz")
    out, png = folder / "out", folder / "samples.png"
    return [
        ("missing data", ["train", folder / "absent.npy", "--out", out], [out]),
        ("values outside [0, 1]", ["train", folder / "large.npy", *TRAIN, "--out", out], [out]),
        ("binarising values outside [0, 1]", ["train", folder / "large.npy", "--binarize", "threshold", *TRAIN,
                                              "--out", out], [out]),
        ("1-D data", ["train", folder / "vector.npy", "--out", out], [out]),
        ("text in a csv", ["train", folder / "text.csv", "--out", out], [out]),
        ("unknown data format", ["train", folder / "rows.txt", "--out", out], [out]),
        ("unknown option", ["train", data, "--hidden-units", "8", "--out", out], [out]),
        ("bad option value", ["train", data, "--epochs", "0", "--out", out], [out]),
        ("resume without checkpoint", ["train", data, "--resume", "--out", out], [out]),
        ("batch larger than data", ["train", data, "--batch-size", "1000", "--out", out], [out]),
        ("centering for a gaussian", ["train", data, "--kind", "gaussian", "--centering", *TRAIN, "--out", out], [out]),
        ("unknown mode", ["train", data, "--mode", "quantum", "--out", out], [out]),
        ("wrong width for the model", ["sample", model, "--start", folder / "wide.npy", "--out", png], [png]),
        ("not a png", ["sample", model, "--out", folder / "samples.jpg"], [folder / "samples.jpg"]),
        ("corrupt model", ["sample", folder / "corrupt.npz", "--out", png], [png]),
        ("missing model", ["evaluate", folder / "absent.npz", data], []),
        ("wrong width to evaluate", ["evaluate", model, folder / "wide.npy"], []),
        ("grey rows for a binary model", ["evaluate", model, folder / "grey.npy"], []),
        ("exact log Z of a large model", ["evaluate", folder / "large_model.npz", data, "--method", "exact"], []),
        ("a checkpoint is not a model", ["info", checkpoint], []),
        ("an array is not a model", ["info", data], []),
        ("no command", [], []),
        ("unknown command", ["fit", data], []),
    ]


def test_bad_input_is_one_line_on_stderr_exit_2_and_writes_nothing(trained, tmp_path):
    cases = bad_inputs(tmp_path, trained["data"], trained["model"], trained["checkpoint"])
    for name, argv, outputs in cases:
        status, out, err = run(argv)
        assert status == 2, (name, err)
        lines = err.splitlines()
        assert len(lines) == 1 and re.match(r"rbm( \w+)?: error: ", lines[0]), (name, err)
        assert "Traceback" not in err and out == "", (name, out)
        assert not any(os.path.exists(path) for path in outputs), name


def test_bad_input_messages_name_the_problem(trained, tmp_path):
    cases = {name: argv for name, argv, _ in bad_inputs(tmp_path, trained["data"], trained["model"],
                                                         trained["checkpoint"])}
    expected = {
        "missing data": "absent.npy' does not exist",
        "values outside [0, 1]": "must hold values in [0, 1]",
        "unknown option": "unrecognized arguments: --hidden-units 8 (see 'rbm train --help')",
        "wrong width for the model": "has 17 columns but the model has 16 visible units",
        "corrupt model": "not a readable model file",
        "grey rows for a binary model": "pass --binarize threshold or stochastic",
        "a checkpoint is not a model": "kind 'rbm.Checkpoint'",
        "binarising values outside [0, 1]": "must hold values in [0, 1]",
        "exact log Z of a large model": "2^26 states, more than the limit of 2^25: use --method ais",
    }
    for name, fragment in expected.items():
        _, _, err = run(cases[name])
        assert fragment in err, (name, err)


# ------------------------------------------------------------------------------- help
@pytest.mark.parametrize("command", [[], ["train"], ["sample"], ["evaluate"], ["info"]])
def test_every_command_has_help(capsys, command):
    assert cli.main([*command, "--help"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"usage: {' '.join(['rbm', *command])} ")


@pytest.mark.parametrize("name", ["likelihood", "likelihood-threshold"])
def test_the_likelihood_methods_are_the_examples_likelihood_presets(name):
    spec = importlib.util.spec_from_file_location("mnist_rbm_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    preset = example.parse_args(["--preset", name])  # the preset over the example's defaults
    method = cli.METHODS[name]
    assert method["persistent"] == (not preset.cd) and method["n_chains"] == preset.persistent_chains
    for setting in ("binarize", "init", "k", "batch_size", "centering", "lr", "lr_schedule", "momentum", "epochs",
                    "weight_decay", "average_last_epochs", "n_hidden"):
        assert method[setting] == getattr(preset, setting), setting


def test_options_given_override_the_method():
    args = cli.build_parser().parse_args(["train", "x.npy", "--method", "pcd1", "--lr", "0.5", "--no-persistent"])
    settings = cli._method_settings(args)
    assert settings["lr"] == 0.5 and settings["k"] == 1 and not settings["persistent"]
    assert settings["n_chains"] is None  # pcd1's 100 chains belong to its persistent chains


@pytest.mark.parametrize("flags, averaged", [(["--method", "pcd1"], None), (["--method", "likelihood"], "preset"),
                                             (["--method", "likelihood", "--average-last-epochs", "0"], None),
                                             (["--method", "pcd1", "--average-last-epochs", "3"], 3)])
def test_average_last_epochs_reaches_the_trainer(monkeypatch, tmp_path, flags, averaged):
    class Built(BaseException):
        """Raised by the stand-in trainer: the test needs its settings, not a run."""

    seen = {}

    def recording_trainer(model, **settings):
        seen.update(settings, n_hidden=model.n_hidden)
        raise Built

    monkeypatch.setattr(cli, "Trainer", recording_trainer)
    data = tmp_path / "bars.npy"
    np.save(data, bars(N_ROWS, seed=0))
    with pytest.raises(Built):
        cli.main(["train", str(data), *flags, "--batch-size", "10", "--out", str(tmp_path / "out")])
    want = (cli.METHODS["likelihood"]["average_last_epochs"] or None) if averaged == "preset" else averaged
    assert seen["average_last_epochs"] == want
    assert seen["n_hidden"] == (1000 if "likelihood" in flags else 500)  # the method's width


def test_n_hidden_given_overrides_the_methods(monkeypatch, tmp_path):
    class Built(BaseException):
        """Raised by the stand-in trainer once the model is built."""

    def recording_trainer(model, **settings):
        raise Built(model.n_hidden)

    monkeypatch.setattr(cli, "Trainer", recording_trainer)
    data = tmp_path / "bars.npy"
    np.save(data, bars(N_ROWS, seed=0))
    with pytest.raises(Built) as built:
        cli.main(["train", str(data), "--method", "likelihood", "--n-hidden", "7", "--batch-size", "10",
                  "--out", str(tmp_path / "out")])
    assert built.value.args == (7,)


def test_python_dash_m_rbm_help():
    result = subprocess.run([sys.executable, "-m", "rbm", "--help"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: rbm ") and "evaluate" in result.stdout


def test_console_script_help():
    script = os.path.join(os.path.dirname(sys.executable), "rbm")
    if not os.path.exists(script):
        pytest.skip("the rbm console script is not installed next to this Python (pip install -e .)")
    result = subprocess.run([script, "train", "--help"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: rbm train ") and "--checkpoint FILE" in result.stdout
