"""Drawing samples from a trained model with persistent Gibbs chains, as the tutorial does."""
import numpy as np
from numpy.typing import ArrayLike

from . import backend
from ._compat import keyword_only
from .validation import check_positive_int, check_seed

__all__ = ["sample_chains"]


@keyword_only("n_samples", "plot_every", "mode", "seed")  # the old positional order
def sample_chains(model, start: ArrayLike, *, n_samples: int = 10, plot_every: int = 1000, mode: str = "cpu",
                  seed: int | None = None) -> np.ndarray:
    """Run persistent Gibbs chains from the rows of ``start`` and keep every ``plot_every``-th state.

    The function that runs ``plot_every`` steps of v -> h -> v in ``scan`` is
    compiled once and called ``n_samples`` times. The chains use their own
    generator (``seed``), so sampling leaves the model's training stream
    untouched.

    Parameters
    ----------
    model : RBM or GaussianBernoulliRBM
    start : array (n_chains, n_visible)
        One chain per row, e.g. test examples.
    n_samples : int >= 1, default 10
        States kept per chain.
    plot_every : int >= 1, default 1000
        Gibbs steps between two kept states.
    mode : str, default "cpu"
        Compile mode (:func:`rbm.backend.resolve_mode`).
    seed : int, optional
        Seeds the chains' generator.

    Returns
    -------
    array (n_samples, n_chains, n_visible)
        The visible *means* p(v | h) at each kept step, which is what the
        tutorial plots (``tile_raster_images(samples.reshape(-1, 784), ...)``).

    Examples
    --------
    >>> import numpy as np
    >>> import rbm
    >>> model = rbm.RBM(n_visible=6, n_hidden=3, seed=0)
    >>> start = np.eye(2, 6)  # two chains
    >>> samples = rbm.sample_chains(model, start, n_samples=3, plot_every=10, seed=0)
    >>> samples.shape, bool(((samples > 0) & (samples < 1)).all())
    ((3, 2, 6), True)
    """
    start = model.check_data(start, "start")
    n_samples = check_positive_int(n_samples, "n_samples")
    plot_every = check_positive_int(plot_every, "plot_every")
    seed = check_seed(seed)
    backend.resolve_mode(mode)
    chain = backend.shared(start, "persistent_vis_chain", model.dtype)
    rng = backend.shared_rng(seed, name="sampler_rng")

    def compile_function():
        with model.drawing_from(rng) as rng_updates:
            (_, _, _, _, vis_means, vis_samples) = model.gibbs_chain(chain, plot_every, "vhv")
        updates = {chain: vis_samples[-1], **rng_updates}
        return backend.compile_function([], vis_means[-1], updates=updates, mode=mode, name="sample_fn")

    sample_fn = backend.compiled_for_model(("sample_chains", plot_every), model, mode,
                                           {"chain": chain, "generator": rng}, compile_function)
    return np.stack([np.asarray(sample_fn()) for _ in range(n_samples)])

