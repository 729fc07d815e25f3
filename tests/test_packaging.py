"""Packaging: the wheel that `python -m build` makes installs outside the checkout and works.

The fresh virtualenv gets the wheel alone (``--no-deps``) and sees the project's
installed dependencies through a ``.pth`` file, so the test needs no download of
PyTensor or JAX; it then checks that every dependency the wheel declares is
satisfied there, so a dependency missing from the metadata still fails.
"""
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_CHECK_SCRIPT = """
import importlib.metadata as metadata, os, sys
from packaging.requirements import Requirement
import rbm
assert not rbm.__file__.startswith(sys.argv[1]), rbm.__file__  # the installed copy, not the checkout
requirements = [Requirement(r) for r in metadata.requires("rbm") if "extra ==" not in r]
for requirement in requirements:
    version = metadata.version(requirement.name)
    assert requirement.specifier.contains(version, prereleases=True), (requirement, version)
import numpy as np
model = rbm.RBM(n_visible=4, n_hidden=2, seed=0, dtype="float64")
data = (np.random.default_rng(0).random((8, 4)) < 0.5).astype(float)
rbm.Trainer(model, batch_size=4, mode="FAST_COMPILE", seed=0).fit(data, epochs=1, verbose=False)
assert np.all(np.isfinite(model.W.get_value()))
print("ok", rbm.__version__, len(requirements))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    if shutil.which("git") is None:
        pytest.skip("needs git to list the project's files")
    out = tmp_path_factory.mktemp("dist")
    # build from a copy of the tracked files, as a clean clone would (no .venv, no build leftovers)
    source = tmp_path_factory.mktemp("source")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    run = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(source)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (built,) = out.glob("rbm-*.whl")
    return built


def test_the_wheel_holds_the_package_its_marker_and_its_command(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "rbm = rbm.cli:main" in archive.read(entry_points).decode()
    assert "rbm/py.typed" in names and "rbm/models/rbm.py" in names and "rbm/cli.py" in names
    assert not any(name.startswith(("tests/", "examples/", "docs/")) for name in names)


@pytest.mark.slow  # an end-to-end run: make test-slow (and .ci/run) runs it
def test_the_wheel_installs_into_a_fresh_virtualenv_and_runs(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True, timeout=300)
    # the dependencies come from this environment's site-packages, after the wheel's own copy of rbm
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    (purelib / "zz_project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([str(python), "-c", _CHECK_SCRIPT, str(ROOT)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600, env=environment)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split()[0] == "ok"
    command = subprocess.run([str(venv / "bin" / "rbm"), "--help"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=300, env=environment)
    assert command.returncode == 0 and "usage: rbm" in command.stdout, command.stderr[-2000:]
