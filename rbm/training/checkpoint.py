"""Training checkpoints: everything a trainer of the engine needs to continue bit for bit.

One module and one format for every trainer of :mod:`rbm.training.engine`
(:class:`rbm.Trainer` writes kind ``rbm.Checkpoint``, version 2;
:class:`rbm.training.DBMTrainer` kind ``rbm.DBMCheckpoint``, version 1;
:class:`rbm.DBNTrainer` kind ``rbm.DBNCheckpoint``, version 3). A
checkpoint is an ``.npz`` written atomically (see :mod:`rbm.persistence`)
holding the parameters, the optimizer's state (momentum buffers, Adam's
moments), the chains, centering offsets, integer state such as the
pseudo-likelihood bit index, other state as JSON (a DBN's stage and early
stopping), the sampler's random generator state (under JAX: the key of the
training function's own copy of it), the position in the run
(epoch, minibatch, costs of the epoch so far), the history, the trainer's
settings and a fingerprint of the training data. Loading checks all of it
against the trainer before anything is changed.
"""
import hashlib
import json

import numpy as np

from .. import backend
from ..persistence import atomic_savez, load_npz

__all__ = ["save_checkpoint", "load_checkpoint", "data_fingerprint"]

_KIND = "rbm.Checkpoint"
#: the settings of a version 1 checkpoint of rbm.Trainer that later versions added, with their old values
_TRAINER_DEFAULTS = {"centering": None, "tempering": None, "optimizer": None}


def data_fingerprint(batches):
    """sha256 of the training minibatches as the model sees them (dtype and order included).

    A resume refuses other data: the checkpoint's position counts minibatches
    of these rows in this order.

    Parameters
    ----------
    batches : ndarray (n_batches, batch_size, width)
        The minibatches, in the model's float type.

    Returns
    -------
    str
        The hexadecimal sha256 digest of the array's bytes.
    """
    return hashlib.sha256(np.ascontiguousarray(batches).view(np.uint8)).hexdigest()


def save_checkpoint(trainer, path, position, fingerprint):
    """Write the trainer's full state at ``position`` to ``path`` atomically.

    Parameters
    ----------
    trainer : rbm.training.engine.TrainingEngine
        The trainer; its hooks say what it holds (settings, state arrays,
        integer state).
    path : str
        The ``.npz`` file to write (replaced atomically when it exists).
    position : dict
        ``epoch``, ``batch`` (minibatches done in that epoch),
        ``epoch_costs`` and ``epoch_seconds`` (for the epoch in progress).
    fingerprint : str
        :func:`data_fingerprint` of the training minibatches.
    """
    arrays = {name: np.asarray(variable.get_value(borrow=True))
              for name, variable in trainer._state_variables().items()}
    # One of the two generator entries is empty: JAX modes keep a key, the others a numpy Generator.
    # Both are empty for a step that draws nothing.
    rng_jax_key, rng_state, rng = np.zeros(0, np.uint32), "", trainer._generator()
    if rng is not None and backend.uses_jax(trainer.mode):
        rng_jax_key = backend.jax_rng_key(trainer._train_fn, rng)
    elif rng is not None:
        rng_state = json.dumps(rng.get_value(borrow=True).bit_generator.state)
    extra = trainer._checkpoint_extra()
    atomic_savez(path, dict(
        kind=np.str_(trainer._checkpoint_kind), format_version=np.int64(trainer._checkpoint_version),
        settings=np.str_(json.dumps(trainer._saved_settings(), sort_keys=True)),
        history=np.str_(json.dumps(trainer.history)),
        data_sha256=np.str_(fingerprint),
        **{name: np.int64(value) for name, value in trainer._checkpoint_scalars().items()},
        **({"extra": np.str_(json.dumps(extra))} if extra else {}),
        epoch=np.int64(position["epoch"]), batch=np.int64(position["batch"]),
        **trainer._checkpoint_arrays(),
        epoch_costs=np.asarray(position["epoch_costs"], dtype=np.float64),
        epoch_seconds=np.float64(position["epoch_seconds"]),
        rng_jax_key=rng_jax_key, rng_state=np.str_(rng_state),
        **{f"state_{name}": value for name, value in arrays.items()}))


def load_checkpoint(trainer, path, fingerprint):
    """Check the checkpoint at ``path`` against ``trainer``, then restore it; returns the position.

    Parameters
    ----------
    trainer : rbm.training.engine.TrainingEngine
        The trainer to restore: its settings must be those the checkpoint
        records; its parameters, optimizer state, chains, integer state,
        random generator and history are replaced.
    path : str
        The ``.npz`` checkpoint that :func:`save_checkpoint` wrote.
    fingerprint : str
        :func:`data_fingerprint` of the training minibatches, which must be
        those the checkpoint was written with.

    Returns
    -------
    dict
        The position in the run: ``epoch``, ``batch`` (minibatches done in
        that epoch), ``epoch_costs`` and ``epoch_seconds``.

    Raises
    ------
    ValueError
        Naming the mismatch (other kind or settings, other data, damaged
        file); the trainer and its model are then left untouched.
    """
    arrays = load_npz(path, trainer._checkpoint_kind, versions=trainer._checkpoint_readable)
    version = int(arrays["format_version"])
    try:
        settings = json.loads(str(arrays["settings"]))
        rng_state = str(arrays["rng_state"])
        rng_jax_key = np.asarray(arrays["rng_jax_key"])
        history = json.loads(str(arrays["history"]))
        position = {"epoch": int(arrays["epoch"]), "batch": int(arrays["batch"]),
                    "epoch_costs": [float(c) for c in arrays["epoch_costs"]],
                    "epoch_seconds": float(arrays["epoch_seconds"])}
        scalars = {name: int(arrays[name]) for name in trainer._checkpoint_scalars()}
        extra = json.loads(str(arrays["extra"])) if "extra" in arrays else {}
        fingerprint_saved = str(arrays["data_sha256"])
    except (KeyError, ValueError, TypeError) as error:
        raise ValueError(f"{path!r} is not a complete {trainer._checkpoint_kind} checkpoint: {error}") from None
    expected = trainer._saved_settings()
    settings.setdefault("average_last_epochs", None)  # checkpoints from before parameter averaging
    if trainer._checkpoint_kind == _KIND:
        settings.setdefault("n_chains", settings.get("batch_size"))  # checkpoints from before n_chains existed
        for key, value in _TRAINER_DEFAULTS.items():  # and from before centering, tempering, optimizers
            settings.setdefault(key, value)
        if version == 1:  # version 1 named neither the model's kind nor its settings, nor held fixed arrays
            settings.setdefault("model", trainer.model.FILE_KIND)
            settings.setdefault("model_settings", trainer.model.get_settings())
    different = {key: (settings.get(key), value) for key, value in expected.items() if settings.get(key) != value}
    if different:
        described = ", ".join(f"{key}: checkpoint {saved!r}, trainer {now!r}" for key, (saved, now) in different.items())
        raise ValueError(f"{path!r} was written by a trainer with other settings ({described})")
    if fingerprint_saved != fingerprint:
        raise ValueError(f"{path!r} was written while training on other data: resume needs the same "
                         "rows in the same order")
    restored = {}
    older_format = version < trainer._checkpoint_version
    for name, variable in trainer._state_variables().items():
        key = f"state_{name}"
        current = variable.get_value(borrow=True)
        if key not in arrays:
            if older_format and variable not in trainer.model.params:
                continue  # a fixed array that version 1 did not save: the model keeps its own
            raise ValueError(f"{path!r} lacks the training state {name!r}")
        value = arrays[key]
        if value.shape != current.shape or value.dtype != np.dtype(variable.dtype):
            raise ValueError(f"{path!r}: {name} is {value.dtype}{value.shape}, expected "
                             f"{variable.dtype}{current.shape}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{path!r}: {name} holds NaN or infinite values")
        restored[variable] = value
    if position["batch"] < 0 or position["epoch"] < 0:
        raise ValueError(f"{path!r} holds an impossible position")
    trainer._check_checkpoint_scalars(scalars, path)
    trainer._check_checkpoint_extra(extra, path)
    trainer._check_checkpoint_arrays(arrays, position, path)
    rng = trainer._generator()
    uses_jax = backend.uses_jax(trainer.mode)
    if rng is None:
        pass  # the step draws nothing
    elif uses_jax:  # the compiled function's own copy of the generator (see backend.jax_rng_key)
        if rng_jax_key.dtype != np.uint32 or rng_jax_key.shape != (2,):
            raise ValueError(f"{path!r} holds no JAX random key (uint32, 2 values) for a JAX mode")
    else:
        try:
            state = json.loads(rng_state)
            generator = np.random.Generator(getattr(np.random, state["bit_generator"])())
            generator.bit_generator.state = state
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path!r} holds an unreadable random generator state: {error}") from None
    # Every check passed: now change state.
    for variable, value in restored.items():
        backend.set_shared_data(variable, value, trainer.mode)
    trainer._restore_checkpoint_scalars(scalars)
    trainer._restore_checkpoint_extra(extra)
    trainer._restore_checkpoint_arrays(arrays)
    if rng is not None and uses_jax:
        backend.set_jax_rng_key(trainer._train_fn, rng, rng_jax_key)
    elif rng is not None:
        rng.set_value(generator)
    trainer.history[:] = history
    return position
