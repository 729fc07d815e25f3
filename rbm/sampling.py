"""Drawing samples from a trained model with persistent Gibbs chains, as the tutorial does."""
import numpy as np

from . import backend
from .validation import check_positive_int, check_seed

__all__ = ["sample_chains"]


def sample_chains(model, start, n_samples=10, plot_every=1000, mode="cpu", seed=None):
    """Run persistent Gibbs chains from the rows of ``start`` and keep every ``plot_every``-th state.

    One chain per row of ``start`` (e.g. test examples). The function that runs
    ``plot_every`` steps of v -> h -> v in ``scan`` is compiled once and called
    ``n_samples`` times. Returns an array (n_samples, n_chains, n_visible) of
    the visible *means* p(v | h) at each kept step, which is what the tutorial
    plots. The chains use their own generator (``seed``), so sampling leaves the
    model's training stream untouched.
    """
    start = model.check_data(start, "start")
    n_samples = check_positive_int(n_samples, "n_samples")
    plot_every = check_positive_int(plot_every, "plot_every")
    seed = check_seed(seed)
    backend.resolve_mode(mode)
    chain = backend.shared(start, "persistent_vis_chain", model.dtype)
    with model.drawing_from(backend.shared_rng(seed, name="sampler_rng")) as rng_updates:
        (_, _, _, _, vis_means, vis_samples) = model.gibbs_chain(chain, plot_every, "vhv")
    updates = {chain: vis_samples[-1], **rng_updates}
    sample_fn = backend.compile_function([], vis_means[-1], updates=updates, mode=mode,
                                         name="sample_fn")
    return np.stack([np.asarray(sample_fn()) for _ in range(n_samples)])
