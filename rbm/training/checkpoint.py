"""Training checkpoints: everything a :class:`rbm.Trainer` needs to continue bit for bit.

A checkpoint is an ``.npz`` written atomically (see :mod:`rbm.persistence`)
holding the parameters, momentum buffers, persistent chain, pseudo-likelihood
bit index, the sampler's random generator state (under JAX: the key of the
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
from .schedules import describe

__all__ = ["save_checkpoint", "load_checkpoint", "data_fingerprint"]

_KIND = "rbm.Checkpoint"
#: version 2 adds the model's kind and settings, and every array of the model (fixed sigma included)
_FORMAT_VERSION = 2
_SETTINGS = ("model", "model_settings", "n_visible", "n_hidden", "dtype", "learning_rate", "k", "persistent",
             "batch_size", "n_chains", "momentum", "weight_decay", "mode", "centering", "tempering")


def data_fingerprint(batches):
    """sha256 of the training minibatches as the model sees them (dtype and order included)."""
    return hashlib.sha256(np.ascontiguousarray(batches).view(np.uint8)).hexdigest()


def _settings(trainer):
    model = trainer.model
    return {"model": model.FILE_KIND, "model_settings": model.get_settings(),
            "n_visible": model.n_visible, "n_hidden": model.n_hidden, "dtype": model.dtype,
            "learning_rate": describe(trainer.learning_rate), "k": trainer.k, "persistent": trainer.persistent,
            "batch_size": trainer.batch_size, "n_chains": trainer.n_chains, "momentum": describe(trainer.momentum),
            "weight_decay": trainer.weight_decay, "mode": str(trainer.mode),
            "centering": trainer.centering_rate if trainer.centering else None,
            "tempering": None if trainer.tempering is None else [float(b) for b in trainer.tempering.betas]}


def _state_variables(trainer):
    """name -> shared variable for every array the training step reads and updates."""
    model = trainer.model
    # every array of the model, trained or not: a fixed sigma changes training as much as W does
    variables = dict(model._settable())
    variables.update({v.name: v for v in trainer.velocities})
    if trainer.persistent_chain is not None:
        variables["persistent_chain"] = trainer.persistent_chain
    if trainer.centering:
        variables.update(visible_offset=trainer.visible_offset, hidden_offset=trainer.hidden_offset)
    if trainer.tempering is not None:
        variables.update(trainer.tempering.state_variables)
    return variables


def save_checkpoint(trainer, path, position, fingerprint):
    """Write the trainer's full state at ``position`` to ``path`` atomically.

    ``position`` is a dict with ``epoch``, ``batch`` (minibatches done in that
    epoch), ``epoch_costs`` and ``epoch_seconds`` (for the epoch in progress).
    """
    arrays = {name: np.asarray(variable.get_value(borrow=True))
              for name, variable in _state_variables(trainer).items()}
    # One of the two generator entries is empty: JAX modes keep a key, the others a numpy Generator.
    rng_jax_key, rng_state = np.zeros(0, np.uint32), ""
    if backend.uses_jax(trainer.mode):
        rng_jax_key = backend.jax_rng_key(trainer._train_fn, trainer.model.rng)
    else:
        rng_state = json.dumps(trainer.model.rng.get_value(borrow=True).bit_generator.state)
    atomic_savez(path, dict(
        kind=np.str_(_KIND), format_version=np.int64(_FORMAT_VERSION),
        settings=np.str_(json.dumps(_settings(trainer), sort_keys=True)),
        history=np.str_(json.dumps(trainer.history)),
        data_sha256=np.str_(fingerprint),
        bit_i_idx=np.int64(trainer.model.bit_i_idx.get_value()),
        epoch=np.int64(position["epoch"]), batch=np.int64(position["batch"]),
        epoch_costs=np.asarray(position["epoch_costs"], dtype=np.float64),
        epoch_seconds=np.float64(position["epoch_seconds"]),
        rng_jax_key=rng_jax_key, rng_state=np.str_(rng_state),
        **{f"state_{name}": value for name, value in arrays.items()}))


def load_checkpoint(trainer, path, fingerprint):
    """Check the checkpoint at ``path`` against ``trainer``, then restore it; returns the position.

    Raises ``ValueError`` naming the mismatch (other settings, other data,
    damaged file) and then leaves the trainer and its model untouched.
    """
    arrays = load_npz(path, _KIND, versions=(1, _FORMAT_VERSION))
    version = int(arrays["format_version"])
    try:
        settings = json.loads(str(arrays["settings"]))
        rng_state = str(arrays["rng_state"])
        rng_jax_key = np.asarray(arrays["rng_jax_key"])
        history = json.loads(str(arrays["history"]))
        position = {"epoch": int(arrays["epoch"]), "batch": int(arrays["batch"]),
                    "epoch_costs": [float(c) for c in arrays["epoch_costs"]],
                    "epoch_seconds": float(arrays["epoch_seconds"])}
        bit = int(arrays["bit_i_idx"])
        fingerprint_saved = str(arrays["data_sha256"])
    except (KeyError, ValueError, TypeError) as error:
        raise ValueError(f"{path!r} is not a complete rbm checkpoint: {error}") from None
    settings.setdefault("n_chains", settings.get("batch_size"))  # checkpoints from before n_chains existed
    settings.setdefault("centering", None)  # and from before centering
    settings.setdefault("tempering", None)  # and tempering
    if version == 1:  # version 1 named neither the model's kind nor its settings, nor held fixed arrays
        settings.setdefault("model", trainer.model.FILE_KIND)
        settings.setdefault("model_settings", trainer.model.get_settings())
    expected = _settings(trainer)
    different = {key: (settings.get(key), expected[key]) for key in _SETTINGS if settings.get(key) != expected[key]}
    if different:
        described = ", ".join(f"{key}: checkpoint {saved!r}, trainer {now!r}" for key, (saved, now) in different.items())
        raise ValueError(f"{path!r} was written by a trainer with other settings ({described})")
    if fingerprint_saved != fingerprint:
        raise ValueError(f"{path!r} was written while training on other data: resume needs the same "
                         "rows in the same order")
    restored = {}
    for name, variable in _state_variables(trainer).items():
        key = f"state_{name}"
        current = variable.get_value(borrow=True)
        if key not in arrays:
            if version == 1 and variable not in trainer.model.params:
                continue  # a fixed array that version 1 did not save: the model keeps its own
            raise ValueError(f"{path!r} lacks the training state {name!r}")
        value = arrays[key]
        if value.shape != current.shape or value.dtype != np.dtype(variable.dtype):
            raise ValueError(f"{path!r}: {name} is {value.dtype}{value.shape}, expected "
                             f"{variable.dtype}{current.shape}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{path!r}: {name} holds NaN or infinite values")
        restored[variable] = value
    if not 0 <= bit < trainer.model.n_visible or not 0 <= position["batch"]:
        raise ValueError(f"{path!r} holds an impossible position or bit index")
    uses_jax = backend.uses_jax(trainer.mode)
    if uses_jax:  # the compiled function's own copy of the generator (see backend.jax_rng_key)
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
    trainer.model.bit_i_idx.set_value(np.int64(bit))
    if uses_jax:
        backend.set_jax_rng_key(trainer._train_fn, trainer.model.rng, rng_jax_key)
    else:
        trainer.model.rng.set_value(generator)
    trainer.history[:] = history
    return position
