"""Negative phases as classes: the built-in ones behind Trainer's arguments, and a phase of one's own."""
import numpy as np
import pytest

from rbm import Trainer
from rbm.backend import pt
from rbm.training.negative_phases import ContrastiveDivergence, NegativePhase, PersistentContrastiveDivergence

from .test_trainer import CHAIN_END, STEP_DATA, assert_updates_equal, numpy_updates, saturated_model


class FixedChainEnd(NegativePhase):
    """A negative phase of one's own: the model statistics read at one given visible state (no sampling)."""

    def __init__(self, v):
        self.v = v

    def __repr__(self):  # the test id: the same in every xdist worker
        return "FixedChainEnd()"

    def build(self, model, k):
        chain_end = pt.as_tensor_variable(np.tile(self.v, (5, 1)).astype(model.dtype))
        mean_field_reconstruction = model.propdown(model.propup(model.input)[1])[0]
        return model.get_reconstruction_cost({}, mean_field_reconstruction), model.free_energy_gradients(chain_end), {}


@pytest.mark.parametrize("phase", [ContrastiveDivergence(), PersistentContrastiveDivergence(n_chains=7),
                                   FixedChainEnd(CHAIN_END)], ids=repr)
def test_each_negative_phase_steps_like_numpy(phase):
    """On the saturated model every chain ends at CHAIN_END, so CD, PCD and the fixed phase all give numpy's step."""
    model = saturated_model()
    before = [p.get_value() for p in model.params]
    expected, _ = numpy_updates(model, learning_rate=0.2)
    trainer = Trainer(model, learning_rate=0.2, k=2, batch_size=5, negative_phase=phase, mode="FAST_COMPILE", seed=0)
    trainer.fit(STEP_DATA, epochs=1, verbose=False)
    assert_updates_equal(model, before, expected)
    assert trainer.persistent == isinstance(phase, PersistentContrastiveDivergence)
    if isinstance(phase, PersistentContrastiveDivergence):
        assert trainer.persistent_chain.get_value().shape == (7, 3)  # the phase's own chain count
        assert "persistent_chain" in trainer._state_variables()


def test_a_bad_negative_phase_is_refused():
    with pytest.raises(TypeError, match="negative_phase must be"):
        Trainer(saturated_model(), negative_phase="pcd")
    with pytest.raises(ValueError, match="through negative_phase"):
        Trainer(saturated_model(), negative_phase=ContrastiveDivergence(), tempering=3)

