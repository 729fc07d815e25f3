"""A mutation pass over rbm's maths: hand-chosen mutants, each run against the fast tests that should kill it.

Each mutant changes one exact snippet of one file (a flipped sign, a transposed
weight matrix, swapped biases, an off-by-one chain length, a wrong temperature,
a dropped term, a field not restored). For each, the repository is copied to a
scratch folder (the files ``git ls-files`` lists, tracked and untracked but not
ignored; all copies are made from one snapshot taken when the pass starts),
the snippet is replaced there, and pytest runs the mutant's tests in the copy
with the copy first on ``PYTHONPATH``: the working tree itself is never
written. A mutant is *killed* when a test fails, *survived* when all
pass. Mutants whose snippet is not in the file exactly once (the code moved on)
are reported apart and not counted.

Before the mutants, a *baseline* runs every selected test on an unmutated copy:
tests that fail there (work in progress) are deselected from every mutant's
run and listed in the report, so that they cannot count as kills.

Usage (from the repository root)::

    .venv/bin/python tools/mutants.py --list
    .venv/bin/python tools/mutants.py --dry-run                # where `import rbm` resolves in a copy
    .venv/bin/python tools/mutants.py --report mutation_report.md
    .venv/bin/python tools/mutants.py --only rbm-free-energy-sign trainer-update-sign --no-baseline

The pass (139 mutants) takes about 20 minutes on two cores; ``--jobs`` runs mutants side by side.
"""
import argparse
import collections
import concurrent.futures
import datetime
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

Mutant = collections.namedtuple("Mutant", ["id", "file", "original", "mutated", "description", "tests",
                                           "equivalent", "gap"])


#: the end of Bernoulli.energy_term's docstring: the context that makes its "return -pt.dot(v, bias)" unique
BERNOULLI_ENERGY = 'symbolic vector (batch,)\n            e(v) = -v.b, one value per row.\n        """\n        return '

def mutant(id, file, original, mutated, description, tests, equivalent=None, gap=None):
    """A mutant.

    ``equivalent`` gives the reason when it cannot change any numerical result;
    ``gap`` names the test that would kill it, where the last pass found none.
    """
    return Mutant(id, file, original, mutated, description, tuple(tests), equivalent, gap)


# ----------------------------------------------------------------------------------------------- test selections
RBM_TESTS = "tests/models/test_rbm.py"
FREE_ENERGY = RBM_TESTS + "::test_free_energy_matches_numpy"
CONDITIONALS = RBM_TESTS + "::test_conditionals_match_numpy"
SAMPLES = RBM_TESTS + "::test_samples_are_binary_with_the_right_frequencies"
GIBBS_STEPS = RBM_TESTS + "::test_gibbs_steps_return_six_values_in_tutorial_order"
GIBBS_CONDITIONS = RBM_TESTS + "::test_gibbs_steps_condition_each_layer_on_the_previous_sample"
CD_GRADIENT = RBM_TESTS + "::test_cd_gradient_is_data_minus_model_statistics"
PCD_UPDATES = RBM_TESTS + "::test_get_cost_updates_pcd_updates_params_chain_bit_and_rng"
BIT_WRAPS = RBM_TESTS + "::test_bit_index_wraps_modulo_n_visible"
CD_MONITOR = RBM_TESTS + "::test_get_cost_updates_cd_monitors_reconstruction"
CD_K_MONITOR = RBM_TESTS + "::test_cd_k_monitors_the_reconstruction_of_its_last_step"
SGD_UPDATE = RBM_TESTS + "::test_sgd_update_is_param_minus_lr_times_gradient"
CD_CHAIN = RBM_TESTS + "::test_cd_chain_end_follows_the_exact_k_step_distribution"
PCD_CHAIN = RBM_TESTS + "::test_pcd_chain_continues_from_the_persistent_state"
RECONSTRUCTION = RBM_TESTS + "::test_reconstruction_cost_is_stable_at_extremes"
PSEUDO_LIKELIHOOD = RBM_TESTS + "::test_pseudo_likelihood_is_stable_at_extremes"
PSEUDO_LIKELIHOOD_ROUNDS = RBM_TESTS + "::test_pseudo_likelihood_rounds_grey_input"
INITIALISATION = RBM_TESTS + "::test_default_initialisation_matches_tutorial"
FROM_DATA = RBM_TESTS + "::test_hinton_initialisation_from_data"
BINARY_SAMPLING = "tests/test_sampling.py::test_binary_chains_follow_the_exact_distribution_step_by_step"
GAUSSIAN_SAMPLING = "tests/test_sampling.py::test_gaussian_chains_follow_the_exact_distribution_then_equilibrium"

GAUSSIAN_TESTS = "tests/models/test_gaussian.py"
GAUSSIAN_GRAPHS = GAUSSIAN_TESTS + "::test_free_energy_and_conditionals_match_numpy"
GAUSSIAN_SAMPLES = GAUSSIAN_TESTS + "::test_visible_samples_have_the_conditional_mean_and_sigma"
GAUSSIAN_TRAINING = GAUSSIAN_TESTS + "::test_training_lowers_the_reconstruction_error_and_learns_sigma"
GAUSSIAN_MONITOR = GAUSSIAN_TESTS + "::test_monitored_cost_is_the_mean_squared_error_of_the_mean_field_reconstruction"
GAUSSIAN_SAVE = GAUSSIAN_TESTS + "::test_save_and_load_keep_sigma"
GAUSSIAN_INTEGRAL = GAUSSIAN_TESTS + "::test_exact_log_partition_equals_numerical_integration"
GAUSSIAN_AIS = GAUSSIAN_TESTS + "::test_ais_brackets_the_exact_log_partition"
GAUSSIAN_DENSITY = GAUSSIAN_TESTS + "::test_mean_log_likelihood_is_a_normalised_log_density"
GAUSSIAN_PCD_CHAIN = GAUSSIAN_TESTS + "::test_pcd_chain_follows_the_exact_hidden_chain_and_visible_conditionals"

DBN_TESTS = "tests/models/test_dbn.py"
FINETUNE_STEP = DBN_TESTS + "::test_a_finetuning_step_matches_numpy_backpropagation"
LOGISTIC = DBN_TESTS + "::test_logistic_regression_matches_numpy_and_stays_finite"
DBN_TUTORIAL = DBN_TESTS + "::test_the_tutorials_dbn_code_pretrains_and_finetunes"
DBN_DRIVER = DBN_TESTS + "::test_the_tutorials_driver_takes_shared_data_of_any_float_type"
PRETRAINING_K = DBN_TESTS + "::test_pretraining_runs_chains_of_k_gibbs_steps"
PRETRAINING_STEP = DBN_TESTS + "::test_a_pretraining_step_is_numpys_cd_step_on_its_minibatch_rows"
DBN_TRAINER_FIT = "tests/training/test_dbn.py::test_fit_pretrains_every_layer_then_finetunes_and_keeps_the_best_model"
DBN_TRAINER_BEST = "tests/training/test_dbn.py::test_finetuning_ends_with_the_best_validated_model_not_the_last"
DBN_TRAINER_EARLY_STOPPING_RESUME = "tests/training/test_dbn.py::test_a_resume_in_finetuning_keeps_early_stopping"
DBN_TRAINER_TUTORIAL_STOPPING = ("tests/training/test_dbn.py::"
                                 "test_early_stopping_validates_the_epochs_the_tutorials_loop_validates")
DBN_TRAINER_PATIENCE_RESUME = "tests/training/test_dbn.py::test_a_resume_after_the_epoch_that_spent_the_patience_trains_no_more"
DBN_TRAINER_SUBCLASS = "tests/training/test_dbn.py::test_a_user_subclass_of_dbn_compiles_its_own_steps"
DBN_TRAINER_OTHER_SETTINGS = "tests/training/test_dbn.py::test_a_checkpoint_of_other_settings_is_refused"
TEMPERING_REPLICAS = "tests/training/test_tempering.py::test_every_replica_samples_its_tempered_model"
TEMPERING_CATEGORICAL = "tests/training/test_tempering.py::test_categorical_ladders_sample_each_tempered_model"
TEMPERING_GAUSSIAN = "tests/training/test_tempering.py::test_gaussian_ladders_sample_each_tempered_model"
NUMPY_FREE_ENERGY = "tests/test_layers.py::test_numpy_free_energy_is_minus_log_of_the_sum_over_hidden_states"
NUMPY_DRAWS = "tests/test_layers.py::test_numpy_draws_follow_each_layers_conditional"
DBN_TRAINER_FINISHED = "tests/training/test_dbn.py::test_resuming_a_finished_run_changes_nothing"
DBN_TRAINER_RESUME = ("tests/training/test_dbn.py::"
                      "test_a_run_resumed_from_its_checkpoint_ends_with_the_uninterrupted_runs_parameters")

TRAINER_TESTS = "tests/training/test_trainer.py"
SGD_STEPS = TRAINER_TESTS + "::test_sgd_steps_match_numpy"
MOMENTUM_STEPS = TRAINER_TESTS + "::test_momentum_and_weight_decay_steps_match_numpy"
CENTERED_STEPS = TRAINER_TESTS + "::test_centered_steps_match_melchiors_algorithm"
DIVERGENCE = TRAINER_TESTS + "::test_divergence_stops_with_clear_error_and_keeps_last_finite_parameters"
FREE_ENERGY_GAP = TRAINER_TESTS + "::test_free_energy_gap_matches_numpy"
PARTIAL_CALL = TRAINER_TESTS + "::test_a_partial_last_call_changes_nothing_past_the_epoch"
SCHEDULED_EPOCHS = ("tests/training/test_schedules.py"
                    "::test_each_epoch_trains_with_its_scheduled_values_and_one_compiled_step")
SCHEDULE_FORMULAS = "tests/training/test_schedules.py::test_schedules_give_their_formulas"

CENTERING_TESTS = "tests/training/test_centering.py"
CENTERED_STEP = CENTERING_TESTS + "::test_a_centered_step_is_melchiors_algorithm"
CENTERED_MODEL = CENTERING_TESTS + "::test_a_centered_model_is_the_plain_rbm_it_converts_to"
CENTERED_OFFSETS = CENTERING_TESTS + "::test_fit_starts_offsets_at_the_data_means_and_keeps_a_plain_model"

TEMPERING_TESTS = "tests/training/test_tempering.py"
TEMPERED_TRAINING = TEMPERING_TESTS + "::test_tempered_training_runs_and_reports_swap_rates"

EVALUATION_TESTS = "tests/test_evaluation.py"
EXACT_ENUMERATION = EVALUATION_TESTS + "::test_exact_log_partition_matches_enumeration_of_both_layers"
EXACT_BATCHES = EVALUATION_TESTS + "::test_exact_log_partition_sums_several_batches"
MEAN_LL = EVALUATION_TESTS + "::test_mean_log_likelihood_matches_brute_force"
DEFAULT_BETAS = EVALUATION_TESTS + "::test_default_schedule_is_the_papers"
AIS_JAX = EVALUATION_TESTS + "::test_ais_runs_on_jax"
AIS_BASE_RATE = EVALUATION_TESTS + "::test_ais_on_trained_784_by_15_model_with_base_rate"
AIS_RANDOM = EVALUATION_TESTS + "::test_ais_on_random_784_by_15_model"
RAISE_FINE = EVALUATION_TESTS + "::test_raise_matches_exact_log_likelihood_with_fine_temperatures"
BRACKET = EVALUATION_TESTS + "::test_raise_and_ais_bracket_the_exact_log_likelihood_of_model_samples"
RAISE_GAUSSIAN = EVALUATION_TESTS + "::test_raise_on_a_gaussian_rbm_matches_its_closed_form_log_z"
AIS_UNBIASED = EVALUATION_TESTS + "::test_ais_mean_weight_is_unbiased_for_z_with_three_temperatures"

ROUND_TRIP = "tests/test_round_trip.py"
LOADED_TRAINS = ROUND_TRIP + "::test_a_loaded_model_trains_as_the_saved_one"
GAUSSIAN_FILE = ROUND_TRIP + "::test_gaussian_file_keeps_learn_sigma_and_exact_sigma"
EVERY_TRIP = ROUND_TRIP + "::test_every_round_trip_continues_training_bit_for_bit"
RESUME = "tests/training/test_checkpoint.py::test_resume_in_process_matches_uninterrupted_and_counts_whole_run"
CENTERED_RESUME = "tests/training/test_checkpoint.py::test_centered_tempered_resume_mid_epoch_is_bit_identical"
KILLED_AND_RESUMED = "tests/training/test_checkpoint.py::test_killed_and_resumed_run_is_bit_identical"
RESUMED_COSTS = "tests/training/test_checkpoint.py::test_resume_continues_the_monitored_costs_and_the_bit_index"
ADAM_RESUME = "tests/training/test_checkpoint.py::test_adam_resume_matches_uninterrupted"
TUTORIAL_SAMPLING = "tests/test_tutorial_port.py::test_the_tutorials_sampling_scan_follows_the_exact_distribution"

LAYERS_TESTS = "tests/test_layers.py"
CATEGORICAL_GRAPHS = LAYERS_TESTS + "::test_categorical_graphs_match_brute_force"
GAUSSIAN_LAYER = LAYERS_TESTS + "::test_gaussian_layer_matches_brute_force_and_the_named_composition"
CATEGORICAL_LOG_Z = LAYERS_TESTS + "::test_categorical_exact_log_z_matches_brute_force_over_every_state"
MISSING_ABSENT = LAYERS_TESTS + "::test_a_missing_value_is_absent_from_the_rows_model"
MISSING_CD = LAYERS_TESTS + "::test_missing_values_take_part_in_neither_phase_of_cd"
CATEGORICAL_CHAINS = LAYERS_TESTS + "::test_categorical_gibbs_chains_reach_the_exact_distribution"
CATEGORICAL_AIS = LAYERS_TESTS + "::test_ais_brackets_the_exact_log_z_of_a_categorical_rbm"
CATEGORICAL_TRAINING = LAYERS_TESTS + "::test_training_raises_the_exact_log_likelihood_of_categorical_data"
CATEGORICAL_DRAWS = LAYERS_TESTS + "::test_categorical_draws_invert_the_cumulative_probabilities"
CATEGORICAL_MONITOR = LAYERS_TESTS + "::test_categorical_cd_monitors_the_log_probability_of_the_mean_field_reconstruction"
BASE_MODELS = LAYERS_TESTS + "::test_base_models_match_the_data_marginals_and_brute_force_log_z"

OPTIMIZER_TESTS = "tests/training/test_optimizers.py"
ADAM_STEPS = OPTIMIZER_TESTS + "::test_adam_steps_match_numpy"
OPTIMIZER_OBJECTS = OPTIMIZER_TESTS + "::test_sgd_and_momentum_objects_are_the_momentum_argument"
SPARSITY_STEPS = OPTIMIZER_TESTS + "::test_sparsity_target_steps_match_numpy"
DBM_OPTIMIZERS = OPTIMIZER_TESTS + "::test_dbm_trainer_takes_the_engines_optimizers"
GUARDED_OPTIMIZER_STATE = OPTIMIZER_TESTS + "::test_divergence_leaves_the_optimizer_state_at_its_last_finite_value"

RBM_PY, GAUSSIAN_PY, DBN_PY, LAYERS_PY = ("rbm/models/rbm.py", "rbm/models/gaussian.py", "rbm/models/dbn.py",
                                          "rbm/models/layers.py")
TRAINER_PY, CENTERING_PY, TEMPERING_PY, SCHEDULES_PY = ("rbm/training/trainer.py", "rbm/training/centering.py",
                                                        "rbm/training/tempering.py", "rbm/training/schedules.py")
DBN_TRAINER_PY, CHECKPOINT_PY = "rbm/training/dbn.py", "rbm/training/checkpoint.py"
EVALUATION_PY, PERSISTENCE_PY = "rbm/evaluation.py", "rbm/persistence.py"
#: rbm/layers.py holds the unit types (Bernoulli, Gaussian, Categorical); LAYERS_PY is the DBN's rbm/models/layers.py
UNITS_PY, ENGINE_PY, OPTIMIZERS_PY = "rbm/layers.py", "rbm/training/engine.py", "rbm/training/optimizers.py"
REUSE_PY = "rbm/backend/reuse.py"
AVERAGING_PY = "rbm/training/averaging.py"
AVERAGING_TESTS = "tests/training/test_averaging.py"
AVERAGE_MEAN = AVERAGING_TESTS + "::test_a_fit_ends_with_the_mean_of_its_last_epochs_parameters"
AVERAGE_RESUME = AVERAGING_TESTS + "::test_a_resumed_run_averages_exactly_as_the_uninterrupted_one"
AVERAGE_REFUSED = AVERAGING_TESTS + "::test_a_resume_with_another_window_or_run_length_is_refused_and_changes_nothing"
AVERAGE_DAMAGED = AVERAGING_TESTS + "::test_a_damaged_average_in_a_checkpoint_is_refused"
AVERAGE_FLOAT64 = AVERAGING_TESTS + "::test_the_average_sums_in_float64"
ENGINE_TESTS = "tests/training/test_engine.py"
SECOND_TRAINER = ENGINE_TESTS + "::test_a_second_trainer_of_the_same_structure_compiles_nothing_and_trains_as_if_it_had"
OTHER_STRUCTURE = ENGINE_TESTS + "::test_another_structure_compiles_its_own_step"
READ_NOT_COMPILED = ENGINE_TESTS + "::test_the_learning_rate_and_momentum_are_read_not_compiled_in"
SAMPLING_ONCE = ("tests/test_sampling.py"
                 "::test_sampling_is_compiled_once_per_structure_and_reads_each_models_parameters")
BATCHES_PER_CALL = "tests/training/test_trainer.py::test_updates_do_not_depend_on_batches_per_call"
BATCHES_PER_CALL_JAX = "tests/training/test_trainer.py::test_updates_do_not_depend_on_batches_per_call_under_jax"

# ------------------------------------------------------------------------------------------------------ mutants
#: The first is the sanity mutant: it must be killed, or the copies are not what the tests import.
MUTANTS = [
    # ---- rbm/models/rbm.py: free energy
    mutant("rbm-free-energy-sign", RBM_PY,
           "return self.visible.energy_term(v_sample, self.vbias) - hidden_term",
           "return self.visible.energy_term(v_sample, self.vbias) + hidden_term",
           "free energy: the softplus term's sign flipped (sanity mutant)", [FREE_ENERGY]),
    mutant("rbm-free-energy-drop-vbias", UNITS_PY,
           BERNOULLI_ENERGY + '-pt.dot(v, bias)',
           BERNOULLI_ENERGY + '0 * pt.dot(v, bias)',
           "free energy: the visible-bias term dropped (Bernoulli.energy_term)", [FREE_ENERGY]),
    mutant("rbm-free-energy-vbias-sign", UNITS_PY,
           BERNOULLI_ENERGY + '-pt.dot(v, bias)',
           BERNOULLI_ENERGY + 'pt.dot(v, bias)',
           "free energy: the visible-bias term's sign flipped (Bernoulli.energy_term)", [FREE_ENERGY]),
    mutant("rbm-free-energy-drop-hbias", RBM_PY,
           "wx_b = pt.dot(self.visible.scale(v_sample), self.W) + self.hbias",
           "wx_b = pt.dot(self.visible.scale(v_sample), self.W)",
           "free energy: the hidden bias dropped from the softplus argument", [FREE_ENERGY]),
    mutant("rbm-free-energy-activation-sign", RBM_PY,
           "hidden_term = pt.sum(pt.softplus(wx_b), axis=1)", "hidden_term = pt.sum(pt.softplus(-wx_b), axis=1)",
           "free energy: softplus of minus the activation", [FREE_ENERGY]),
    # ---- conditionals and sampling
    mutant("rbm-propup-vbias", RBM_PY,
           "pre_sigmoid_activation = pt.dot(self.visible.scale(vis), self.W) + self.hbias",
           "pre_sigmoid_activation = pt.dot(self.visible.scale(vis), self.W) + self.vbias[:self.n_hidden]",
           "propup: visible bias (its first n_hidden entries) in place of the hidden bias", [CONDITIONALS]),
    mutant("rbm-propdown-W-untransposed", RBM_PY,
           "pre_sigmoid_activation = self.visible.activation(pt.dot(hid, self.W.T), self.vbias)",
           "pre_sigmoid_activation = self.visible.activation(pt.dot(hid, self.W), self.vbias)",
           "propdown: W instead of W^T (the tests' models are not square, so it cannot pass)", [CONDITIONALS]),
    mutant("rbm-propdown-sigmoid-sign", UNITS_PY,
           "return pt.sigmoid(activation)", "return pt.sigmoid(-activation)",
           "propdown (Bernoulli.mean): p(v = 1 | h) = sigmoid(-a) instead of sigmoid(a)", [CONDITIONALS]),
    mutant("rbm-bernoulli-gt", RBM_PY,
           "return pt.cast(pt.lt(self._uniform(mean.shape), mean), self.dtype)",
           "return pt.cast(pt.gt(self._uniform(mean.shape), mean), self.dtype)",
           "Bernoulli draw: uniform > p (P(1) = 1 - p) instead of uniform < p", [SAMPLES]),
    mutant("rbm-bernoulli-mean-field", RBM_PY,
           "return pt.cast(pt.lt(self._uniform(mean.shape), mean), self.dtype)",
           "return mean + 0 * self._uniform(mean.shape)",
           "Bernoulli draw replaced by the mean (no sampling)", [SAMPLES]),
    mutant("rbm-gibbs-hvh-from-mean", RBM_PY,
           "pre_sigmoid_h1, h1_mean, h1_sample = self.sample_h_given_v(v1_sample)",
           "pre_sigmoid_h1, h1_mean, h1_sample = self.sample_h_given_v(v1_mean)",
           "gibbs_hvh: h1 drawn given the visible means instead of the visible sample",
           [GIBBS_CONDITIONS, GIBBS_STEPS]),
    mutant("rbm-gibbs-vhv-from-mean", RBM_PY,
           "pre_sigmoid_v1, v1_mean, v1_sample = self.sample_v_given_h(h1_sample)",
           "pre_sigmoid_v1, v1_mean, v1_sample = self.sample_v_given_h(h1_mean)",
           "gibbs_vhv: v1 drawn given the hidden means instead of the hidden sample", [GIBBS_STEPS, TUTORIAL_SAMPLING]),
    # ---- Gibbs chains
    mutant("rbm-chain-one-step-more", RBM_PY,
           "n_steps=n_steps,", "n_steps=n_steps + 1,",
           "gibbs_chain: k + 1 steps instead of k", [CD_CHAIN]),
    mutant("rbm-chain-columns-vbias-sign", RBM_PY,
           "self.visible.activation(pt.dot(self.W, state), self.vbias[:, None], unit_axis=0)",
           "self.visible.activation(pt.dot(self.W, state), -self.vbias[:, None], unit_axis=0)",
           "chain step (one chain per column): the visible bias's sign flipped", [CD_CHAIN]),
    mutant("rbm-chain-columns-drop-hbias", RBM_PY,
           "pre_sigmoid = pt.dot(self.W.T, self.visible.scale(state, unit_axis=0)) + self.hbias[:, None]",
           "pre_sigmoid = pt.dot(self.W.T, self.visible.scale(state, unit_axis=0))",
           "chain step (one chain per column): the hidden bias dropped", [CD_CHAIN]),
    mutant("rbm-cd-start-from-means", RBM_PY,
           "chain_start = self.sample_h_given_v(self.input)[2]",
           "chain_start = self.sample_h_given_v(self.input)[1]",
           "CD: the chain starts from p(h | data) instead of a sample of it", [CD_CHAIN]),
    mutant("rbm-gradient-chain-start", RBM_PY,
           "gparams = self.free_energy_gradients(nv_samples[-1])",
           "gparams = self.free_energy_gradients(nv_samples[0])",
           "CD-k/PCD-k: the gradient reads the chain's first visible state, not its end (same for k = 1)",
           [CD_GRADIENT, CD_CHAIN]),
    mutant("rbm-persistent-keeps-first", RBM_PY,
           "updates[persistent] = nh_samples[-1]", "updates[persistent] = nh_samples[0]",
           "PCD: the persistent chain keeps the state after the first step, not the last", [PCD_CHAIN]),
    mutant("rbm-persistent-not-updated", RBM_PY,
           "updates[persistent] = nh_samples[-1]", "updates[persistent] = persistent",
           "PCD: the persistent chain is never moved (restarts at each update)", [PCD_CHAIN]),
    mutant("rbm-cd-observed-not-passed", RBM_PY,
           "observed = self.visible.observed(self.input)  # CD runs each row's own model",
           "observed = None  # CD runs each row's own model",
           "CD with missing categorical values: the chain is not given the rows' observed mask (the negative "
           "phase fills the missing variables in)", [MISSING_CD]),
    mutant("rbm-chain-observed-not-applied", RBM_PY,
           "return [pre_sigmoid, mean, sample if observed is None else sample * observed]",
           "return [pre_sigmoid, mean, sample]",
           "chain step (one chain per column): the observed mask not applied to the visible samples", [MISSING_CD]),
    # ---- learning
    mutant("rbm-gradient-sign", RBM_PY,
           "cost = pt.mean(self.free_energy(self.input)) - pt.mean(self.free_energy(chain_end))",
           "cost = pt.mean(self.free_energy(chain_end)) - pt.mean(self.free_energy(self.input))",
           "gradient: model minus data statistics (sign flipped)", [CD_GRADIENT]),
    mutant("rbm-gradient-drop-model-phase", RBM_PY,
           "cost = pt.mean(self.free_energy(self.input)) - pt.mean(self.free_energy(chain_end))",
           "cost = pt.mean(self.free_energy(self.input)) - 0 * pt.mean(self.free_energy(chain_end))",
           "gradient: the negative (model) phase dropped", [CD_GRADIENT]),
    mutant("rbm-gradient-through-chain", RBM_PY,
           "return pt.grad(cost, self.params, consider_constant=[chain_end])",
           "return pt.grad(cost, self.params)",
           "gradient: the chain end not held constant (PyTensor then refuses to differentiate the sampler)",
           [CD_GRADIENT, SGD_UPDATE]),
    mutant("rbm-sgd-sign", RBM_PY,
           "updates[param] = param - gparam * lr", "updates[param] = param + gparam * lr",
           "get_cost_updates: gradient ascent instead of descent", [SGD_UPDATE]),
    mutant("rbm-cd-monitor-first-step", RBM_PY,
           "monitoring_cost = self.monitoring_cost(updates, persistent, pre_sigmoid_nvs[-1])",
           "monitoring_cost = self.monitoring_cost(updates, persistent, pre_sigmoid_nvs[0])",
           "CD-k's reconstruction cost reads the first step's reconstruction, not the last (same for k = 1)",
           [CD_K_MONITOR, CD_MONITOR, SGD_STEPS]),
    # ---- monitoring costs
    mutant("rbm-pl-bit-modulus", RBM_PY,
           "updates[bit_i_idx] = (bit_i_idx + 1) % self.n_visible",
           "updates[bit_i_idx] = (bit_i_idx + 1) % (self.n_visible - 1)",
           "pseudo-likelihood: the bit index wraps one unit early (the last bit is never flipped)", [BIT_WRAPS]),
    mutant("rbm-pl-flip-sign", RBM_PY,
           "flip_sign = 1 - 2 * xi[:, bit_i_idx]", "flip_sign = 2 * xi[:, bit_i_idx] - 1",
           "pseudo-likelihood: the flip's direction reversed", [PSEUDO_LIKELIHOOD]),
    mutant("rbm-pl-drop-vbias", RBM_PY,
           "fe_xi_minus_fe_flip = (flip_sign * self.vbias[bit_i_idx]",
           "fe_xi_minus_fe_flip = (0 * self.vbias[bit_i_idx]",
           "pseudo-likelihood: the flipped bit's visible-bias term dropped", [PSEUDO_LIKELIHOOD]),
    mutant("rbm-pl-drop-n-visible", RBM_PY,
           "cost = -self.n_visible * pt.mean(pt.softplus(fe_xi_minus_fe_flip))",
           "cost = -pt.mean(pt.softplus(fe_xi_minus_fe_flip))",
           "pseudo-likelihood: the factor n_visible dropped", [PSEUDO_LIKELIHOOD]),
    mutant("rbm-pl-no-rounding", RBM_PY,
           "xi = pt.round(self.input)", "xi = self.input",
           "pseudo-likelihood: grey input not rounded to binary (the tutorial rounds)",
           [PSEUDO_LIKELIHOOD_ROUNDS, PSEUDO_LIKELIHOOD, PCD_UPDATES, SGD_STEPS]),
    mutant("rbm-reconstruction-drop-data-term", UNITS_PY,
           "return pt.mean(pt.sum(x * activation - pt.softplus(activation), axis=1))",
           "return pt.mean(pt.sum(-pt.softplus(activation), axis=1))",
           "reconstruction cost (Bernoulli.reconstruction_cost): the x.a term dropped", [RECONSTRUCTION]),
    mutant("rbm-reconstruction-softplus-sign", UNITS_PY,
           "return pt.mean(pt.sum(x * activation - pt.softplus(activation), axis=1))",
           "return pt.mean(pt.sum(x * activation - pt.softplus(-activation), axis=1))",
           "reconstruction cost (Bernoulli.reconstruction_cost): softplus(-a) instead of softplus(a)",
           [RECONSTRUCTION]),
    # ---- initialisation
    mutant("rbm-init-bound", RBM_PY,
           "bound = 4 * np.sqrt(6.0 / (n_hidden + n_units))", "bound = np.sqrt(6.0 / (n_hidden + n_units))",
           "initial W: the sigmoid's factor 4 of the tutorial dropped", [INITIALISATION]),
    mutant("rbm-visible-bias-from-data-sign", RBM_PY,
           "return np.log(p) - np.log1p(-p)", "return np.log1p(-p) - np.log(p)",
           "Hinton's visible-bias initialisation: log((1 - p) / p) instead of log(p / (1 - p))", [FROM_DATA]),

    # ---- rbm/models/gaussian.py
    # The composition reads the layer's scale s(v) = v / sigma in three places (free energy, propup, the chain's
    # hidden step): the free energy's and the chain's are mutated in rbm/models/rbm.py (identity for binary
    # units), propup's in the layer itself.
    mutant("gauss-free-energy-no-sigma-in-hidden", RBM_PY,
           "wx_b = pt.dot(self.visible.scale(v_sample), self.W) + self.hbias",
           "wx_b = pt.dot(v_sample, self.W) + self.hbias",
           "Gaussian free energy: v instead of v / sigma in the hidden activation", [GAUSSIAN_GRAPHS]),
    mutant("gauss-free-energy-quadratic-sign", UNITS_PY,
           "return pt.sum(pt.sqr(v - bias) / (2 * pt.sqr(self.sigma)), axis=1)",
           "return -pt.sum(pt.sqr(v - bias) / (2 * pt.sqr(self.sigma)), axis=1)",
           "Gaussian free energy (Gaussian.energy_term): the quadratic term's sign flipped", [GAUSSIAN_GRAPHS]),
    mutant("gauss-free-energy-quadratic-no-half", UNITS_PY,
           "/ (2 * pt.sqr(self.sigma))", "/ pt.sqr(self.sigma)",
           "Gaussian free energy (Gaussian.energy_term): (v - b)^2 / sigma^2 instead of / (2 sigma^2)",
           [GAUSSIAN_GRAPHS]),
    mutant("gauss-propup-times-sigma", UNITS_PY,
           "return v / self._sigma_along(unit_axis)", "return v * self._sigma_along(unit_axis)",
           "Gaussian scale s(v) (propup, free energy, chains): v * sigma instead of v / sigma", [GAUSSIAN_GRAPHS]),
    mutant("gauss-propdown-no-sigma", UNITS_PY,
           "return bias + self._sigma_along(unit_axis) * top_down", "return bias + top_down",
           "Gaussian propdown (Gaussian.activation): the visible mean without the factor sigma", [GAUSSIAN_GRAPHS]),
    # One sampler serves both layouts now (unit_axis): each mutant below keeps sigma in the other layout.
    mutant("gauss-noise-unit-scale", UNITS_PY,
           "return mean + self._sigma_along(unit_axis) * normal(mean.shape)",
           "return mean + (1 if _rows(unit_axis) else self._sigma_along(unit_axis)) * normal(mean.shape)",
           "Gaussian visible sample (one row per chain): unit noise instead of sigma", [GAUSSIAN_SAMPLES]),
    mutant("gauss-chain-noise-unit-scale", UNITS_PY,
           "return mean + self._sigma_along(unit_axis) * normal(mean.shape)",
           "return mean + (self._sigma_along(unit_axis) if _rows(unit_axis) else 1) * normal(mean.shape)",
           "Gaussian chain step (one chain per column): unit noise instead of sigma",
           [GAUSSIAN_SAMPLING, GAUSSIAN_PCD_CHAIN]),
    mutant("gauss-chain-hidden-no-sigma", RBM_PY,
           "pre_sigmoid = pt.dot(self.W.T, self.visible.scale(state, unit_axis=0)) + self.hbias[:, None]",
           "pre_sigmoid = pt.dot(self.W.T, state) + self.hbias[:, None]",
           "Gaussian chain step: hidden activation from v instead of v / sigma", [GAUSSIAN_SAMPLING]),
    mutant("gauss-reconstruction-abs", UNITS_PY,
           "return pt.mean(pt.sqr(x - mean))",
           "return pt.mean(abs(x - mean))",
           "Gaussian monitoring cost: mean absolute instead of mean squared error",
           [GAUSSIAN_MONITOR, GAUSSIAN_TRAINING]),

    # ---- rbm/layers.py: the unit types (new with the layers refactor)
    mutant("units-bernoulli-sample-gt", UNITS_PY,
           "return pt.cast(pt.lt(uniform(mean.shape), mean), mean.dtype)",
           "return pt.cast(pt.gt(uniform(mean.shape), mean), mean.dtype)",
           "Bernoulli visible draw: uniform > p (P(1) = 1 - p)", [CD_CHAIN, BINARY_SAMPLING]),
    mutant("units-bernoulli-states-shifted", UNITS_PY,
           "((np.arange(start, stop)[:, None] >> np.arange(self.n_variables)) & 1)",
           "((np.arange(start, stop)[:, None] >> np.arange(1, self.n_variables + 1)) & 1)",
           "Bernoulli.states: bit i + 1 of the state number for unit i (state 1 missed, others twice)",
           [EXACT_ENUMERATION]),
    mutant("units-categorical-softmax-rows-over-variables", UNITS_PY,
           'Each group\'s K values sum to 1.\n        """\n        category_axis = 2 if _rows(unit_axis) else 1',
           'Each group\'s K values sum to 1.\n        """\n        category_axis = 1 if _rows(unit_axis) else 1',
           "Categorical.mean (one row per chain): softmax over the variables instead of each group's categories",
           [CATEGORICAL_GRAPHS]),
    mutant("units-categorical-softmax-columns-over-variables", UNITS_PY,
           'Each group\'s K values sum to 1.\n        """\n        category_axis = 2 if _rows(unit_axis) else 1',
           'Each group\'s K values sum to 1.\n        """\n        category_axis = 2 if _rows(unit_axis) else 0',
           "Categorical.mean (one chain per column, training's chains): softmax over the variables",
           [CATEGORICAL_CHAINS, MISSING_CD]),
    mutant("units-categorical-cdf-last-not-one", UNITS_PY,
           "cdf = pt.set_subtensor(cdf[_along(category_axis, slice(-1, None))], 1.0)", "cdf = cdf",
           "Categorical.sample: the last cumulative probability not forced to 1 (rounding can leave a group all zero)",
           [CATEGORICAL_DRAWS, CATEGORICAL_GRAPHS, CATEGORICAL_CHAINS]),
    mutant("units-categorical-onehot-off-by-one", UNITS_PY,
           "return (from_drawn_on - before).reshape(mean.shape)",
           "return (before - pt.concatenate([pt.zeros_like(before[_along(category_axis, slice(0, 1))]), "
           "before[_along(category_axis, slice(None, -1))]], axis=category_axis)).reshape(mean.shape)",
           "Categorical.sample: the one-hot difference one category late (k + 1 drawn for k; none for the last)",
           [CATEGORICAL_DRAWS, CATEGORICAL_GRAPHS, CATEGORICAL_CHAINS]),
    mutant("units-categorical-uniform-per-unit", UNITS_PY,
           "        uniform_shape[category_axis] = 1\n", "",
           "Categorical.sample: one uniform per unit instead of per group (draws no longer one-hot)",
           [CATEGORICAL_DRAWS, CATEGORICAL_CHAINS]),
    mutant("units-categorical-log-partition-wrong-axis", UNITS_PY,
           "return logsumexp(grouped, axis=2).sum(axis=1)", "return logsumexp(grouped, axis=1).sum(axis=1)",
           "Categorical.log_partition_given_input: log-sum-exp over the variables instead of the categories",
           [CATEGORICAL_LOG_Z]),
    mutant("units-categorical-states-codes", UNITS_PY,
           "codes = np.arange(start, stop)[:, None] // powers % self.n_categories",
           "codes = np.arange(start, stop)[:, None] // powers % (self.n_categories - 1)",
           "Categorical.states: codes modulo K - 1 (the last category never enumerated, others repeated)",
           [CATEGORICAL_LOG_Z]),
    mutant("units-categorical-base-log-partition-axis", UNITS_PY,
           "logsumexp(base_bias.reshape(self.n_variables, self.n_categories), axis=1).sum()",
           "logsumexp(base_bias.reshape(self.n_variables, self.n_categories), axis=0).sum()",
           "Categorical.base_log_partition: log-sum-exp over the variables instead of the categories",
           [BASE_MODELS, CATEGORICAL_AIS]),
    mutant("units-categorical-base-bias-unnormalised", UNITS_PY,
           "return np.log(counts / counts.sum(axis=1, keepdims=True)).ravel()", "return np.log(counts).ravel()",
           "Categorical.base_bias_from_data: log counts, not log frequencies", [BASE_MODELS, CATEGORICAL_AIS],
           equivalent="the biases move by a constant c_i per variable: the base model's distribution is the same, "
                      "its log Z (base_log_partition) gains sum_i c_i and every annealing run's log weight "
                      "(log_f_visible_difference, summed over the steps) loses it, since each complete row has one "
                      "unit on per variable; sample_base reads the biases through a softmax"),
    mutant("units-categorical-base-bias-wrong-axis", UNITS_PY,
           "return np.log(counts / counts.sum(axis=1, keepdims=True)).ravel()",
           "return np.log(counts / counts.sum(axis=0, keepdims=True)).ravel()",
           "Categorical.base_bias_from_data: counts normalised over the variables instead of the categories",
           [BASE_MODELS, CATEGORICAL_AIS]),
    mutant("units-categorical-base-sample-reversed", UNITS_PY,
           "codes = (u >= np.cumsum(p, axis=1)[None, :, :-1]).sum(axis=2)",
           "codes = (u < np.cumsum(p, axis=1)[None, :, :-1]).sum(axis=2)",
           "Categorical.sample_base: the inverse cumulative distribution read backwards",
           [BASE_MODELS, CATEGORICAL_AIS]),
    mutant("units-categorical-reconstruction-wrong-axis", UNITS_PY,
           "shifted = grouped - pt.max(grouped, axis=2, keepdims=True)\n"
           "        log_softmax = shifted - pt.log(pt.sum(pt.exp(shifted), axis=2, keepdims=True))",
           "shifted = grouped - pt.max(grouped, axis=1, keepdims=True)\n"
           "        log_softmax = shifted - pt.log(pt.sum(pt.exp(shifted), axis=1, keepdims=True))",
           "Categorical.reconstruction_cost: log-softmax over the variables instead of the categories",
           [CATEGORICAL_MONITOR]),
    mutant("units-bernoulli-base-bias-sign", UNITS_PY,
           "return np.log(p) - np.log1p(-p)", "return np.log1p(-p) - np.log(p)",
           "Bernoulli.base_bias_from_data: log((1 - p) / p) instead of log(p / (1 - p))",
           [BASE_MODELS, AIS_BASE_RATE]),
    mutant("units-bernoulli-base-log-partition-sign", UNITS_PY,
           "return float(_softplus(base_bias).sum())", "return float(_softplus(-base_bias).sum())",
           "Bernoulli.base_log_partition: softplus(-b_A) (zero base biases: no change)", [BASE_MODELS, AIS_BASE_RATE]),
    mutant("units-gaussian-log-partition-no-sigma", UNITS_PY,
           "+ np.sum(np.log(np.sqrt(2 * np.pi) * sigma)))", "+ np.sum(np.log(np.sqrt(2 * np.pi) + 0 * sigma)))",
           "Gaussian.log_partition_given_input: the integral's log sigma_i dropped",
           [GAUSSIAN_INTEGRAL, GAUSSIAN_LAYER]),
    mutant("units-gaussian-base-log-partition-no-sigma", UNITS_PY,
           "return float(np.sum(np.log(np.sqrt(2 * np.pi) * self.get_sigma())))",
           "return float(np.sum(np.log(np.sqrt(2 * np.pi) + 0 * self.get_sigma())))",
           "Gaussian.base_log_partition: the base Gaussians' log sigma_i dropped", [GAUSSIAN_AIS, BASE_MODELS]),
    mutant("units-gaussian-annealed-no-beta", UNITS_PY,
           "return bias + beta * self.sigma * top_down", "return bias + self.sigma * top_down",
           "Gaussian.annealed_activation: the intermediate models' visible mean ignores beta",
           [GAUSSIAN_AIS, RAISE_GAUSSIAN]),
    mutant("gauss-load-drops-log-sigma", GAUSSIAN_PY,
           "            model.set_params(log_sigma=log_sigma)\n",
           "            pass\n",
           "Gaussian load: log_sigma read but not restored (sigma back to 1)", [GAUSSIAN_SAVE]),

    # ---- rbm/models/dbn.py and rbm/models/layers.py (the DBN's sigmoid and logistic layers)
    mutant("dbn-finetune-sign", DBN_PY,
           "updates = {param: param - gparam * lr for param, gparam in zip(self.params, gparams)}",
           "updates = {param: param + gparam * lr for param, gparam in zip(self.params, gparams)}",
           "DBN fine-tuning: gradient ascent instead of descent", [FINETUNE_STEP]),
    mutant("dbn-pretrain-k-ignored", DBN_PY,
           "cost, updates = rbm.get_cost_updates(learning_rate, persistent=None, k=k)",
           "cost, updates = rbm.get_cost_updates(learning_rate, persistent=None, k=1)",
           "DBN pretraining: CD-1 whatever k", [PRETRAINING_K, DBN_TUTORIAL, DBN_DRIVER]),
    mutant("dbn-pretrain-minibatch-short", DBN_PY,
           "batch_end = batch_begin + batch_size",
           "batch_end = batch_begin + batch_size - 1",
           "DBN pretraining: each minibatch loses its last row", [PRETRAINING_STEP, DBN_TUTORIAL, DBN_DRIVER]),
    mutant("layers-nll-sign", LAYERS_PY,
           "return -pt.mean(log_p[pt.arange(y.shape[0]), y])",
           "return pt.mean(log_p[pt.arange(y.shape[0]), y])",
           "logistic regression: the log-likelihood instead of its negative", [LOGISTIC]),
    mutant("layers-hidden-activation-sign", LAYERS_PY,
           "        linear = pt.dot(input, self.W) + self.b\n",
           "        linear = pt.dot(input, self.W) - self.b\n",
           "hidden layer: input W - b", [FINETUNE_STEP]),

    # ---- rbm/training/trainer.py
    # plain SGD is rbm/training/optimizers.py's Momentum without a velocity; the loop is rbm/training/engine.py's
    mutant("trainer-update-sign", OPTIMIZERS_PY,
           "new_values[param] = param - learning_rate * grad", "new_values[param] = param + learning_rate * grad",
           "Trainer (no momentum): gradient ascent", [SGD_STEPS]),
    mutant("trainer-learning-rate-doubled", OPTIMIZERS_PY,
           "new_values[param] = param - learning_rate * grad", "new_values[param] = param - 2 * learning_rate * grad",
           "Trainer (no momentum): twice the learning rate", [SGD_STEPS]),
    mutant("trainer-wrong-minibatch", ENGINE_PY,
           "replace[data] = self._batches[pt.minimum(minibatch_index, last_batch)]",
           "replace[data] = self._batches[pt.minimum(minibatch_index + 1, last_batch)]",
           "training engine: each step reads the next minibatch (off by one)", [SGD_STEPS]),
    mutant("trainer-velocity-sign", OPTIMIZERS_PY,
           "new_velocity = hyper[\"momentum\"] * state[i] - learning_rate * grad",
           "new_velocity = hyper[\"momentum\"] * state[i] + learning_rate * grad",
           "Momentum: the gradient's sign flipped in the velocity", [MOMENTUM_STEPS]),
    mutant("trainer-momentum-dropped", OPTIMIZERS_PY,
           "new_velocity = hyper[\"momentum\"] * state[i] - learning_rate * grad",
           "new_velocity = 0 * state[i] - learning_rate * grad",
           "Momentum: the velocity forgets the earlier steps", [MOMENTUM_STEPS]),
    mutant("trainer-weight-decay-on-biases", TRAINER_PY,
           "gradients[0] = gradients[0] + np.asarray(self.weight_decay, dtype=dtype) * model.W",
           "gradients = [g + np.asarray(self.weight_decay, dtype=dtype) * p for g, p in zip(gradients, model.params)]",
           "weight decay applied to the biases too", [MOMENTUM_STEPS]),
    mutant("trainer-weight-decay-dropped", TRAINER_PY,
           "if self.weight_decay:", "if self.weight_decay and False:",
           "weight decay never applied", [MOMENTUM_STEPS]),
    mutant("trainer-weight-decay-sign", TRAINER_PY,
           "gradients[0] = gradients[0] + np.asarray(self.weight_decay, dtype=dtype) * model.W",
           "gradients[0] = gradients[0] - np.asarray(self.weight_decay, dtype=dtype) * model.W",
           "weight decay pushes W away from zero", [MOMENTUM_STEPS]),
    mutant("trainer-schedule-next-epoch", ENGINE_PY,
           "values = self._schedule_values(epoch)\n",
           "values = self._schedule_values(epoch + 1)\n",
           "training engine: each epoch trains with the next epoch's scheduled values", [SCHEDULED_EPOCHS]),
    mutant("trainer-divergence-guard-dropped", ENGINE_PY,
           "updates[shared_var] = pt.switch(healthy, updates[shared_var], shared_var)",
           "updates[shared_var] = updates[shared_var]",
           "divergence guard: non-finite updates are applied", [DIVERGENCE]),
    mutant("trainer-divergence-cost-unchecked", ENGINE_PY,
           "finite = pt.all(pt.isfinite(cost))", "finite = pt.all(pt.isfinite(cost) | True)",
           "divergence guard: a non-finite monitoring cost goes unnoticed", [DIVERGENCE]),
    mutant("trainer-centering-rate-swapped", TRAINER_PY,
           "visible_offset = (1 - rate) * self.visible_offset + rate * pt.mean(model.input, axis=0)",
           "visible_offset = rate * self.visible_offset + (1 - rate) * pt.mean(model.input, axis=0)",
           "centering: the visible offset's sliding average weights swapped", [CENTERED_STEP]),
    mutant("trainer-initial-hidden-offset", TRAINER_PY,
           "hidden_means = 1 / (1 + np.exp(-(rows @ W + hbias)))",
           "hidden_means = 1 / (1 + np.exp(-(rows @ W)))",
           "centering: the initial hidden offsets ignore the hidden bias", [CENTERED_OFFSETS, CENTERED_STEPS]),
    mutant("trainer-free-energy-gap-sign", TRAINER_PY,
           "record[\"free_energy_gap\"] = self._mean_free_energy(valid[:n]) - self._mean_free_energy(used[:n])",
           "record[\"free_energy_gap\"] = self._mean_free_energy(used[:n]) - self._mean_free_energy(valid[:n])",
           "free-energy gap: training minus validation", [FREE_ENERGY_GAP]),
    mutant("trainer-sparsity-sign", TRAINER_PY,
           "excess = pt.mean(model.propup(model.input)[1], axis=0) - np.asarray(self.sparsity_target, dtype=dtype)",
           "excess = np.asarray(self.sparsity_target, dtype=dtype) - pt.mean(model.propup(model.input)[1], axis=0)",
           "sparsity penalty: p - q instead of q - p (pushes the activations away from the target)",
           [SPARSITY_STEPS]),
    mutant("trainer-sparsity-outer-dropped", TRAINER_PY,
           "return (grad_W + cost * pt.outer(pt.mean(model.visible.scale(model.input), axis=0), excess),",
           "return (grad_W,",
           "sparsity penalty: W's term mean(v) (q - p)^T dropped (only hbias penalised)", [SPARSITY_STEPS]),
    mutant("trainer-sparsity-hbias-dropped", TRAINER_PY,
           "grad_hbias + cost * excess)", "grad_hbias)",
           "sparsity penalty: the hidden biases' term dropped", [SPARSITY_STEPS]),
    mutant("engine-guard-skips-optimizer-state", TRAINER_PY,
           "guarded = list(new_values) + list(self.negative_phase", "guarded = list(model.params) + list(self.negative_phase",
           "divergence guard: the optimizer's state (velocities, Adam's moments and step) and the offsets "
           "unguarded", [GUARDED_OPTIMIZER_STATE, DIVERGENCE]),
    mutant("engine-guard-params-unchecked", ENGINE_PY,
           "finite = pt.and_(finite, pt.all(pt.isfinite(updates[param])))", "finite = pt.and_(finite, True)",
           "divergence guard: only the cost is checked, not the updated parameters",
           [GUARDED_OPTIMIZER_STATE, DIVERGENCE]),
    mutant("engine-partial-call-one-step-more", ENGINE_PY,
           "active = pt.lt(minibatch_index, stop)", "active = pt.le(minibatch_index, stop)",
           "training engine: a call's step at index stop (past the epoch's end, or the next call's) changes state",
           [PARTIAL_CALL]),

    # ---- rbm/training/optimizers.py
    mutant("momentum-param-sign", OPTIMIZERS_PY,
           "new_values[param] = param + new_velocity", "new_values[param] = param - new_velocity",
           "Momentum: p <- p - v instead of p + v", [MOMENTUM_STEPS, OPTIMIZER_OBJECTS]),
    mutant("adam-no-mean-correction", OPTIMIZERS_PY,
           "corrected_mean = new_mean / (1 - beta1 ** t)", "corrected_mean = new_mean",
           "Adam: the first moment not bias-corrected", [ADAM_STEPS]),
    mutant("adam-no-square-correction", OPTIMIZERS_PY,
           "corrected_square = new_square / (1 - beta2 ** t)", "corrected_square = new_square",
           "Adam: the second moment not bias-corrected", [ADAM_STEPS]),
    mutant("adam-betas-swapped", OPTIMIZERS_PY,
           "beta1, beta2 = hyper[\"beta1\"], hyper[\"beta2\"]", "beta2, beta1 = hyper[\"beta1\"], hyper[\"beta2\"]",
           "Adam: beta1 and beta2 swapped", [ADAM_STEPS]),
    mutant("adam-epsilon-inside-sqrt", OPTIMIZERS_PY,
           "(pt.sqrt(corrected_square) + epsilon)", "pt.sqrt(corrected_square + epsilon)",
           "Adam: sqrt(s + eps) instead of sqrt(s) + eps", [ADAM_STEPS]),
    mutant("adam-step-not-advanced", OPTIMIZERS_PY,
           "new_values = {step: t}", "new_values = {}",
           "Adam: the step count never advances (every step corrected as the first)", [ADAM_STEPS]),
    mutant("adam-moments-not-kept", OPTIMIZERS_PY,
           "new_values[mean], new_values[square] = new_mean, new_square", "pass",
           "Adam: the moments computed but not stored (each step starts from zero moments)", [ADAM_STEPS]),
    mutant("adam-gradient-not-squared", OPTIMIZERS_PY,
           "new_square = beta2 * square + (1 - beta2) * pt.sqr(grad)",
           "new_square = beta2 * square + (1 - beta2) * abs(grad)",
           "Adam: the second moment averages |g| instead of g^2", [ADAM_STEPS]),

    # ---- rbm/training/centering.py
    mutant("centering-W-offset-sign", CENTERING_PY,
           "centered_W = (grad_W - pt.outer(visible_offset, grad_hbias)",
           "centered_W = (grad_W + pt.outer(visible_offset, grad_hbias)",
           "centered gradient of W: + mu g_c^T instead of -", [CENTERED_STEP]),
    mutant("centering-hbias-plain-gradient", CENTERING_PY,
           "grad_hbias - pt.dot(visible_offset, centered_W),",
           "grad_hbias - pt.dot(visible_offset, grad_W),",
           "centered hidden-bias step: the plain W gradient instead of the centered one", [CENTERED_STEP]),
    mutant("centering-vbias-term-dropped", CENTERING_PY,
           "grad_vbias - pt.dot(centered_W, hidden_offset))", "grad_vbias)",
           "centered visible-bias step: the - G_W lambda term dropped", [CENTERED_STEP]),
    mutant("centering-to-plain-sign", CENTERING_PY,
           "return W, np.asarray(hbias, np.float64) - visible_offset @ W,",
           "return W, np.asarray(hbias, np.float64) + visible_offset @ W,",
           "to_plain: c + W^T mu instead of c - W^T mu", [CENTERED_MODEL]),

    # ---- rbm/training/tempering.py
    mutant("tempering-acceptance-sign", TEMPERING_PY,
           "log_ratio = (beta64[:-1] - beta64[1:]) * (annealed[1:] - annealed[:-1])",
           "log_ratio = (beta64[1:] - beta64[:-1]) * (annealed[1:] - annealed[:-1])",
           "swap acceptance: the log ratio's sign flipped", [TEMPERING_TESTS]),
    mutant("tempering-betas-reversed", TEMPERING_PY,
           "beta = pt.repeat(pt.constant(self.betas.astype(dtype)), ladder[1])[:, None]",
           "beta = pt.repeat(pt.constant(self.betas[::-1].astype(dtype)), ladder[1])[:, None]",
           "tempering: replica t samples at the reversed ladder's temperature", [TEMPERING_TESTS]),
    mutant("tempering-visible-untempered", TEMPERING_PY,
           "model.vbias, self.base_bias(), beta)", "model.vbias, self.base_bias(), 1.0)",
           "tempering: the visible conditional ignores beta (wrong temperature)", [TEMPERING_TESTS]),
    mutant("tempering-even-pairs-only", TEMPERING_PY,
           "this_round = pt.eq(pair % 2, self.step % 2)[:, None]",
           "this_round = pt.eq(pair % 2, 0)[:, None]",
           "tempering: only the even neighbour pairs are ever proposed", [TEMPERING_TESTS]),
    mutant("tempering-energy-hbias-sign", TEMPERING_PY,
           "return visible + pt.dot(h, model.hbias) + pt.sum(",
           "return visible - pt.dot(h, model.hbias) + pt.sum(",
           "tempering energy: the hidden-bias term's sign flipped (wrong acceptance)", [TEMPERING_TESTS]),
    mutant("tempering-swap-direction", TEMPERING_PY,
           "return pt.switch(with_next, following, pt.switch(with_previous, preceding, x))",
           "return pt.switch(with_previous, following, pt.switch(with_next, preceding, x))",
           "tempering: an accepted swap moves states the wrong way along the ladder", [TEMPERING_TESTS]),
    mutant("tempering-gradient-from-hottest", TEMPERING_PY,
           "return v[-1], updates", "return v[0], updates",
           "tempering: the gradient reads the hottest replica (beta = 0), not beta = 1", [TEMPERING_TESTS]),

    # ---- rbm/training/schedules.py
    mutant("schedules-linear-early", SCHEDULES_PY,
           "start + (end - start) * min(epoch, epochs) / epochs",
           "start + (end - start) * min(epoch, epochs - 1) / epochs",
           "linear schedule: never reaches its end value", [SCHEDULE_FORMULAS]),
    mutant("schedules-exponential-off-by-one", SCHEDULES_PY,
           "lambda epoch: start * decay ** epoch,", "lambda epoch: start * decay ** (epoch + 1),",
           "exponential schedule: one decay too many", [SCHEDULE_FORMULAS]),

    # ---- rbm/evaluation.py
    mutant("eval-free-energy-vbias-sign", UNITS_PY,
           "return -v @ bias", "return v @ bias",
           "numpy free energy (Layer.np_energy_term, binary and categorical): + v.b", [MEAN_LL, RAISE_FINE]),
    mutant("eval-mean-log-likelihood-sign", EVALUATION_PY,
           "return float(np.mean(-free_energy(model, _complete_rows(model, data))) - log_z)",
           "return float(np.mean(-free_energy(model, _complete_rows(model, data))) + log_z)",
           "mean log-likelihood: -F + log Z", [MEAN_LL, GAUSSIAN_DENSITY]),
    mutant("eval-exact-batch-drops-last-state", EVALUATION_PY,
           "h = _binary_states(start, min(start + _STATES_PER_BATCH, n_hidden_states), model.n_hidden)",
           "h = _binary_states(start, min(start + _STATES_PER_BATCH - 1, n_hidden_states), model.n_hidden)",
           "exact log Z (hidden states enumerated): each full batch of states loses its last state",
           [EXACT_BATCHES]),
    # Not equivalent any more: the result names how many states it enumerated (categorical test), and a
    # Gaussian model's visible layer cannot be enumerated at all.
    mutant("eval-exact-enumerates-larger-layer", EVALUATION_PY,
           "if n_hidden_states <= n_visible_states:", "if n_hidden_states >= n_visible_states:",
           "exact log Z: enumerates the larger layer instead of the smaller",
           [EXACT_ENUMERATION, EXACT_BATCHES, CATEGORICAL_LOG_Z, GAUSSIAN_INTEGRAL]),
    mutant("eval-exact-gaussian-square", UNITS_PY,
           "(top_down * (bias / sigma) + top_down ** 2 / 2)", "(top_down * (bias / sigma) + top_down ** 2)",
           "exact log Z (Gaussian.log_partition_given_input): u^2 instead of u^2 / 2", [GAUSSIAN_INTEGRAL]),
    mutant("eval-exact-visible-batch-drops-last-state", EVALUATION_PY,
           "v = visible.states(start, min(start + _STATES_PER_BATCH, n_visible_states))",
           "v = visible.states(start, min(start + _STATES_PER_BATCH - 1, n_visible_states))",
           "exact log Z (visible states enumerated): each full batch of states loses its last state",
           [EXACT_BATCHES]),
    mutant("eval-exact-visible-energy-sign", UNITS_PY,
           "return self.np_energy_term(v, vbias) - _softplus(",
           "return -self.np_energy_term(v, vbias) - _softplus(",
           "numpy free energy (exact log Z by visible states, the estimators' scores): - e(v) instead of + e(v)",
           [EXACT_ENUMERATION, CATEGORICAL_LOG_Z, NUMPY_FREE_ENERGY]),
    mutant("layers-numpy-draws-ignore-bias", UNITS_PY,
           "        probabilities = expit(top_down + bias)", "        probabilities = expit(top_down)",
           "numpy draws of binary units (the estimators' gibbs) leave out the visible biases",
           [NUMPY_DRAWS]),
    mutant("eval-default-betas", EVALUATION_PY,
           "np.linspace(0.5, 0.9, 4001)[:-1]", "np.linspace(0.5, 0.9, 4000)[:-1]",
           "default AIS schedule: one temperature short in the middle stretch", [DEFAULT_BETAS]),
    mutant("eval-ais-weight-sign", EVALUATION_PY,
           "log_w = log_w + log_f_difference(v, beta, previous_beta)",
           "log_w = log_w - log_f_difference(v, beta, previous_beta)",
           "AIS: weight increments subtracted", [AIS_JAX]),
    mutant("eval-ais-drop-visible-term", UNITS_PY,
           "return (beta - previous_beta) * pt.dot(v, bias - base_bias)",
           "return pt.zeros((v.shape[0],), dtype=\"float64\")",
           "AIS/RAISE: the visible-bias term of the weight increments dropped", [AIS_JAX]),
    mutant("eval-ais-move-at-previous-beta", EVALUATION_PY,
           "log_w = log_w + log_f_difference(v, beta, previous_beta)\n        v, rng = gibbs_move(v, beta, rng)",
           "log_w = log_w + log_f_difference(v, beta, previous_beta)\n        v, rng = gibbs_move(v, previous_beta, "
           "rng)",
           "AIS: the Gibbs move leaves the previous temperature's model invariant, not the new one's",
           [AIS_UNBIASED, AIS_JAX, BRACKET]),
    mutant("eval-ais-move-before-weight", EVALUATION_PY,
           "log_w = log_w + log_f_difference(v, beta, previous_beta)\n        v, rng = gibbs_move(v, beta, rng)",
           "v, rng = gibbs_move(v, beta, rng)\n        log_w = log_w + log_f_difference(v, beta, previous_beta)",
           "AIS: the weight increment read after the move instead of before", [AIS_UNBIASED, AIS_JAX, BRACKET]),
    mutant("eval-ais-base-mix-dropped", UNITS_PY,
           "return beta * (top_down + bias) + (1 - beta) * base_bias",
           "return beta * (top_down + bias)",
           "AIS/RAISE: the intermediate models' visible conditional drops the base model's share",
           [AIS_BASE_RATE, BRACKET]),
    mutant("eval-ais-base-log-z-hidden", EVALUATION_PY,
           "return base_bias, model.visible.base_log_partition(base_bias) + model.n_hidden * np.log(2.0)",
           "return base_bias, model.visible.base_log_partition(base_bias)",
           "AIS: the base model's log Z without its hidden units' n_hidden log 2", [AIS_JAX]),
    mutant("eval-ais-base-start-sign", UNITS_PY,
           "< 1 / (1 + np.exp(-base_bias))).astype(np.float64)",
           "< 1 / (1 + np.exp(base_bias))).astype(np.float64)",
           "AIS: the base model's samples drawn with the biases' sign flipped (zero biases: no change)",
           [AIS_UNBIASED, AIS_BASE_RATE]),
    mutant("eval-ais-interval-scale", EVALUATION_PY,
           "three_standard_errors = 3 * weights.std(ddof=1) / np.sqrt(n_runs)",
           "three_standard_errors = 3 * weights.std(ddof=1) / n_runs",
           "AIS interval: standard error divided by n instead of sqrt(n)", [AIS_RANDOM, GAUSSIAN_AIS]),
    mutant("eval-raise-not-reversed", EVALUATION_PY,
           "anneal(v_start, betas[::-1].copy())", "anneal(v_start, betas.copy())",
           "RAISE: anneals upwards from the data instead of from the model down", [RAISE_FINE]),
    mutant("eval-raise-move-at-beta", EVALUATION_PY,
           "            v, rng = gibbs_move(v, previous_beta, rng)\n",
           "            v, rng = gibbs_move(v, beta, rng)\n",
           "RAISE: each move at the next temperature instead of the current one", [RAISE_FINE, BRACKET]),
    mutant("eval-raise-runs-sign", EVALUATION_PY,
           "+ logsumexp(log_weights, axis=1) - np.log(n_runs)",
           "+ logsumexp(log_weights, axis=1) + np.log(n_runs)",
           "RAISE: the log of the runs' mean weight divides by 1 / n_runs", [RAISE_FINE]),

    # ---- rbm/persistence.py and rbm/training/checkpoint.py: a field not restored
    mutant("persistence-settings-dropped", PERSISTENCE_PY,
           "settings=np.str_(json.dumps(model.get_settings(), sort_keys=True)),",
           "settings=np.str_(json.dumps({}, sort_keys=True)),",
           "model files: the settings (learn_sigma) not written", [GAUSSIAN_FILE]),
    mutant("checkpoint-velocities-dropped", TRAINER_PY,
           "variables.update({v.name: v for v in self.optimizer_state})", "pass",
           "checkpoints: the optimizer's state (momentum buffers, Adam's moments) neither saved nor restored",
           [RESUME, ADAM_RESUME]),
    mutant("checkpoint-bit-index-not-restored", TRAINER_PY,
           "self.model.bit_i_idx.set_value(np.int64(scalars[\"bit_i_idx\"]))",
           "self.model.bit_i_idx.set_value(np.int64(0))",
           "checkpoints: the pseudo-likelihood's bit index restarts at 0 (only the monitored cost changes)",
           [RESUMED_COSTS, RESUME, EVERY_TRIP, KILLED_AND_RESUMED]),
    mutant("checkpoint-rng-not-restored", CHECKPOINT_PY,
           "        rng.set_value(generator)", "        rng.get_value()",
           "checkpoints: the sampler's generator state not restored (non-JAX modes)", [RESUME]),
    mutant("checkpoint-history-not-restored", CHECKPOINT_PY,
           "trainer.history[:] = history", "trainer.history[:] = []",
           "checkpoints: the history not restored", [RESUME]),
    mutant("checkpoint-offsets-not-restored", TRAINER_PY,
           "variables.update(visible_offset=self.visible_offset, hidden_offset=self.hidden_offset)",
           "pass",
           "checkpoints: the centering offsets neither saved nor restored", [CENTERED_RESUME]),
    mutant("checkpoint-adam-moments-dropped", TRAINER_PY,
           "variables.update({v.name: v for v in self.optimizer_state})",
           "variables.update({v.name: v for v in self.velocities})",
           "checkpoints: only the momentum buffers saved (Adam's step and moments not restored)",
           [ADAM_RESUME, RESUME]),
    mutant("checkpoint-scalars-not-restored", CHECKPOINT_PY,
           "trainer._restore_checkpoint_scalars(scalars)", "pass",
           "checkpoints: the integer state (the pseudo-likelihood's bit index) read and checked but not restored",
           [RESUMED_COSTS, RESUME]),
    mutant("checkpoint-position-batch-reset", CHECKPOINT_PY,
           "\"batch\": int(arrays[\"batch\"])", "\"batch\": 0",
           "checkpoints: a mid-epoch resume restarts its epoch at minibatch 0 (with the later state)",
           [CENTERED_RESUME]),
    mutant("dbn-trainer-keeps-last-model", DBN_TRAINER_PY,
           "            stage.keep_best()  # the model that validated best", "            pass",
           "DBNTrainer: ends with the last fine-tuned model, not the best validated one",
           [DBN_TRAINER_BEST, DBN_TRAINER_FIT]),
    mutant("dbn-resume-ignores-finished", DBN_TRAINER_PY,
           "        return self.owner._run_ended or super()._run_complete()",
           "        return super()._run_complete()",
           "DBNTrainer: resuming the checkpoint of a run that early stopping ended trains on",
           [DBN_TRAINER_FINISHED]),
    mutant("dbn-resume-keeps-other-generators", DBN_TRAINER_PY,
           "            self.dbn.rbm_layers[i].rng.set_value(generator)", "            pass",
           "DBNTrainer: a resume restores the running layer's sampler only (later layers keep the new DBN's seeds)",
           [DBN_TRAINER_RESUME]),
    mutant("tempering-unscaled-visible", TEMPERING_PY,
           "pt.sum(pt.dot(model.visible.scale(v), model.W) * h, axis=-1)", "pt.sum(pt.dot(v, model.W) * h, axis=-1)",
           "parallel tempering: the swap's weight term reads v, not v / sigma, for Gaussian units",
           [TEMPERING_GAUSSIAN]),
    mutant("dbn-stops-an-epoch-late", DBN_TRAINER_PY,
           "<= (record[\"epoch\"] + 2) * self._n_batches - 2", "<= (record[\"epoch\"] + 1) * self._n_batches",
           "DBNTrainer: fine-tuning validates an epoch more than the tutorial's loop once patience was extended",
           [DBN_TRAINER_TUTORIAL_STOPPING]),
    mutant("engine-resume-trains-an-ended-run", ENGINE_PY,
           "epochs_to_run = 0 if self._run_complete() else epochs - self._position[\"epoch\"]",
           "epochs_to_run = epochs - self._position[\"epoch\"]",
           "engine: a resume after the epoch that ended the run (early stopping) trains on",
           [DBN_TRAINER_PATIENCE_RESUME]),
    mutant("dbn-key-ignores-network-class", DBN_TRAINER_PY,
           "network = backend.structure_of(self.owner.dbn)", "network = (\"DBN\",)",
           "DBNTrainer: a user's DBN subclass reuses the steps compiled for rbm.DBN",
           [DBN_TRAINER_SUBCLASS]),
    mutant("dbn-fingerprint-rows-only", DBN_TRAINER_PY,
           "self._fingerprint = _datasets_fingerprint([X, y, *valid, *test])",
           "self._fingerprint = _datasets_fingerprint([np.concatenate([X, valid[0], test[0]])])",
           "DBNTrainer: a resume accepts other labels, or rows moved between the sets",
           [DBN_TRAINER_OTHER_SETTINGS]),
    mutant("dbn-resume-forgets-early-stopping", DBN_TRAINER_PY,
           "self._earlier, self.early_stopping = history, stopping", "self._earlier = history",
           "DBNTrainer: a resume in fine-tuning starts early stopping afresh",
           [DBN_TRAINER_RESUME, DBN_TRAINER_EARLY_STOPPING_RESUME]),
    # ---- compiled once per structure (rbm/backend/reuse.py, the engine, sampling, evaluation)
    mutant("reuse-key-ignores-optimizer-state", ENGINE_PY,
           "settings = json.dumps([settings, state], sort_keys=True, default=repr)",
           "settings = json.dumps([settings, []], sort_keys=True, default=repr)",
           "engine: the structure key leaves out the optimizer's state (momentum 0 and 0.5 share a step)",
           [OTHER_STRUCTURE]),
    mutant("reuse-learning-rate-baked", ENGINE_PY,
           "        return pt.cast(self._now[name], dtype)",
           "        setting = self.learning_rate if name == 'learning_rate' else self.optimizer.hyperparameters[name]\n"
           "        return np.asarray(setting, dtype=dtype)",
           "engine: a numeric learning rate or momentum compiled in as a constant while the key leaves it out",
           [READ_NOT_COMPILED]),
    mutant("reuse-serves-the-template", REUSE_PY,
           "return copy_function(template, {placeholder: variables[name] for placeholder, name in names.items()})",
           "return template",
           "FunctionCache: a later object gets the template itself (bound to the placeholders), not a copy",
           [SECOND_TRAINER, SAMPLING_ONCE]),
    mutant("engine-short-stretch-in-one-call", ENGINE_PY,
           "if stop - start == self.batches_per_call or not self._fixed_length(self.batches_per_call):",
           "if True:",
           "engine: under JAX a stretch shorter than batches_per_call runs in one call of the fixed-length step "
           "(its idle steps draw)", [BATCHES_PER_CALL_JAX]),
    mutant("engine-numba-loop-of-fixed-length", ENGINE_PY,
           "return n_steps == 1 or backend.uses_jax(self.mode)", "return True",
           "engine: Numba's step runs a fixed number of minibatches per call too (idle steps draw)",
           [BATCHES_PER_CALL]),
    mutant("engine-jax-key-not-handed-over", ENGINE_PY,
           "            backend.set_jax_rng_key(self._single_step_fn, rng, backend.jax_rng_key(self._train_fn, rng))",
           "            pass",
           "engine: under JAX the one-step function draws from its own stale copy of the generator",
           [BATCHES_PER_CALL_JAX]),
    mutant("averaging-window-one-epoch-early", AVERAGING_PY,
           "self.first_epoch = max(end_epoch - self.n_epochs, fit_first_epoch)",
           "self.first_epoch = max(end_epoch - self.n_epochs - 1, fit_first_epoch)",
           "parameter averaging: the window takes one epoch too many", [AVERAGE_MEAN]),
    mutant("averaging-sums-in-the-params-dtype", AVERAGING_PY,
           "values = [np.asarray(value, dtype=np.float64) for value in params]",
           "values = [np.asarray(value) for value in params]",
           "parameter averaging: sums in the parameters' own (float32) type", [AVERAGE_FLOAT64]),
    mutant("averaging-not-restored", AVERAGING_PY,
           "        self.count = int(arrays[\"average_count\"])\n",
           "        return\n",
           "parameter averaging: a resumed run forgets the sums of the epochs before the interruption",
           [AVERAGE_RESUME]),
    mutant("averaging-restarted-after-a-resume", ENGINE_PY,
           "            self._offsets_set = True\n",
           "            self._offsets_set = True\n            self._average and self._average.start(epochs)\n",
           "parameter averaging: a resume clears the restored sums", [AVERAGE_RESUME]),
    mutant("averaging-window-unchecked", AVERAGING_PY,
           "        if first != expected:", "        if False:",
           "parameter averaging: a resume with another run length is taken", [AVERAGE_REFUSED]),
    mutant("averaging-count-unchecked", AVERAGING_PY,
           "        if count != max(position_epoch - first, 0):", "        if False:",
           "parameter averaging: a checkpoint's impossible count is taken", [AVERAGE_DAMAGED]),
    mutant("averaging-window-before-the-fit", AVERAGING_PY,
           "self.first_epoch = max(end_epoch - self.n_epochs, fit_first_epoch)",
           "self.first_epoch = max(end_epoch - self.n_epochs, 0)",
           "parameter averaging: a second fit's window reaches into the first fit's epochs (counts what it never "
           "added)", [AVERAGING_TESTS + "::test_a_second_fit_shorter_than_the_window_averages_its_own_epochs_and_resumes"]),
    mutant("averaging-setting-not-saved", ENGINE_PY,
           "return {**self._checkpoint_settings(), \"average_last_epochs\": self.average_last_epochs}",
           "return self._checkpoint_settings()",
           "parameter averaging: checkpoints do not record the window, so another one resumes", [AVERAGE_REFUSED]),
]


# ------------------------------------------------------------------------------------------------------ running
def repository_files(repo):
    """Tracked and untracked-but-not-ignored files of ``repo`` that exist (relative paths)."""
    listed = subprocess.run(["git", "-C", repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            check=True, capture_output=True).stdout.decode().split("\0")
    return sorted({path for path in listed if path and os.path.isfile(os.path.join(repo, path))})


def copy_repository(repo, files, destination):
    """A fresh copy of ``files`` of ``repo`` in ``destination`` (removed first if it exists)."""
    shutil.rmtree(destination, ignore_errors=True)
    for path in files:
        target = os.path.join(destination, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(repo, path), target)


def snippet_problem(repo, item):
    """None when ``item.original`` occurs exactly once in its file, else what is wrong."""
    path = os.path.join(repo, item.file)
    if not os.path.isfile(path):
        return f"file {item.file} not found"
    with open(path, encoding="utf-8") as stream:
        count = stream.read().count(item.original)
    if count == 0:
        return "snippet not found"
    if count > 1:
        return f"snippet found {count} times"
    return None


def apply_mutant(copy, item):
    """Replace the snippet in the copy's file; fails loudly unless it occurs exactly once there."""
    path = os.path.join(copy, item.file)
    with open(path, encoding="utf-8") as stream:
        text = stream.read()
    if text.count(item.original) != 1:
        raise RuntimeError(f"{item.id}: the snippet occurs {text.count(item.original)} times in {item.file}")
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text.replace(item.original, item.mutated))


def copy_environment(copy):
    """The environment for a run in ``copy``: the copy first on PYTHONPATH, no bytecode written."""
    environment = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    environment["PYTHONPATH"] = os.pathsep.join([copy] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    return environment


#: the pytest processes running now (each leads its own process group), for stop_running
RUNNING = set()
#: set by stop_running: mutants not started yet are then skipped
STOPPING = []


def stop_running(signal_number, frame):
    """On SIGTERM or SIGINT: kill every running pytest with whatever it started, then exit."""
    STOPPING.append(signal_number)
    for process in list(RUNNING):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    raise SystemExit(f"stopped by signal {signal_number}")


def run_pytest(python, copy, tests, timeout, log_path, stop_at_first=True, deselect=()):
    """Run pytest on ``tests`` in ``copy``; returns (exit code or None on timeout, seconds, failing node ids)."""
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(["-x"] if stop_at_first else []),
               *[f"--deselect={node}" for node in deselect], *tests]
    started = time.perf_counter()
    with open(log_path, "w") as log:
        log.write(" ".join(command) + "\n\n")
        log.flush()
        # its own session, so that a timeout kills pytest and whatever it started (checkpoint workers)
        process = subprocess.Popen(command, cwd=copy, env=copy_environment(copy), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        RUNNING.add(process)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            code = None
        finally:
            RUNNING.discard(process)
    seconds = time.perf_counter() - started
    with open(log_path, encoding="utf-8", errors="replace") as log:
        failing = re.findall(r"^(?:FAILED|ERROR) (\S+)", log.read(), flags=re.MULTILINE)
    return code, seconds, failing


def outcome(code):
    """pytest's exit code as the mutant's outcome: 1 (tests failed) and 2 (collection failed) kill it."""
    if code is None:
        return "timeout"
    if code == 5:
        return "untested (no test left: its tests fail without the mutation)"
    return {0: "survived", 1: "killed", 2: "killed"}.get(code, f"error (pytest exit code {code})")


def collapse(selections):
    """The union of test selections, without node ids whose whole file is selected too."""
    items = sorted({test for tests in selections for test in tests})
    files = {item for item in items if "::" not in item}
    return [item for item in items if item in files or item.split("::")[0] not in files]


def collected_tests(python, snapshot, items):
    """Every test node id pytest collects, in the snapshot, from the files the mutants' tests are in."""
    files = sorted({test.split("::")[0] for item in items for test in item.tests})
    found = subprocess.run([python, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
                           cwd=snapshot, env=copy_environment(snapshot), capture_output=True, text=True)
    return {line.strip() for line in found.stdout.splitlines() if "::" in line and " " not in line.strip()}


def selection_exists(test, collected):
    """Whether ``test`` (a file, a test function, or one parametrized case) names at least one collected test."""
    if "::" not in test:
        return any(node.startswith(test + "::") for node in collected)
    return any(node == test or node.startswith(test + "[") for node in collected)


def run_baseline(python, snapshot, files, items, workdir, timeout):
    """Run every selected test on an unmutated copy; returns (failing node ids, broken files, seconds)."""
    copy = os.path.join(workdir, "_baseline")
    copy_repository(snapshot, files, copy)
    code, seconds, failing = run_pytest(python, copy, collapse([item.tests for item in items]), timeout,
                                        os.path.join(workdir, "logs", "_baseline.log"), stop_at_first=False)
    shutil.rmtree(copy, ignore_errors=True)
    if code is None:
        raise SystemExit(f"the baseline run timed out after {timeout} s: raise --baseline-timeout")
    if code not in (0, 1, 2):
        raise SystemExit(f"the baseline run could not run its tests (pytest exit code {code}): see "
                         f"{os.path.join(workdir, 'logs', '_baseline.log')}")
    broken = sorted({node for node in failing if "::" not in node})  # a file that does not even collect
    return sorted(set(failing) - set(broken)), broken, seconds


def run_mutant(item, python, snapshot, files, workdir, timeout, deselect, keep):
    if STOPPING:
        return {"outcome": "not run (stopped)", "seconds": 0.0, "killed_by": "", "log": ""}
    copy = os.path.join(workdir, item.id)
    copy_repository(snapshot, files, copy)
    apply_mutant(copy, item)
    log_path = os.path.join(workdir, "logs", f"{item.id}.log")
    code, seconds, failing = run_pytest(python, copy, item.tests, timeout, log_path, deselect=deselect)
    if not keep:
        shutil.rmtree(copy, ignore_errors=True)
    return {"outcome": outcome(code), "seconds": seconds, "killed_by": failing[0] if failing else "",
            "log": log_path}


def check_import(python, snapshot, files, workdir):
    """Where ``import rbm`` resolves in a copy, with the environment the runs use (must be inside the copy)."""
    copy = os.path.join(workdir, "_import_check")
    copy_repository(snapshot, files, copy)
    found = subprocess.run([python, "-c", "import rbm; print(rbm.__file__)"], cwd=copy,
                           env=copy_environment(copy), capture_output=True, text=True)
    shutil.rmtree(copy, ignore_errors=True)
    location = found.stdout.strip()
    if found.returncode != 0 or not os.path.realpath(location).startswith(os.path.realpath(copy) + os.sep):
        raise SystemExit(f"import rbm in a copy at {copy} resolves to {location!r} (stderr: {found.stderr[-500:]}): "
                         "the mutants would not be tested")
    return copy, location


# ------------------------------------------------------------------------------------------------------ report
def markdown_cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def describe_tree(repo):
    """The commit the working tree is on, and whether it holds uncommitted changes."""
    def git(*arguments):
        return subprocess.run(["git", "-C", repo, *arguments], capture_output=True, text=True).stdout.strip()
    return git("rev-parse", "--short", "HEAD") + (" plus uncommitted changes" if git("status", "--porcelain") else "")


def write_report(path, command, results, not_applied, baseline, started, seconds, tree, missing):
    """The results as a markdown file: score, survivors with judgements, every mutant's row."""
    run = results
    killed = [m for m in run if run[m]["outcome"] == "killed"]
    survived = [m for m in run if run[m]["outcome"] == "survived"]
    equivalent = [m for m in survived if m.equivalent]
    other = [m for m in run if run[m]["outcome"] not in ("killed", "survived")]
    lines = [
        "# Mutation pass over rbm's maths", "",
        f"- command: `{command}`",
        f"- code: the working tree at the start (commit {tree})",
        f"- started: {started:%Y-%m-%d %H:%M}, took {seconds / 60:.1f} minutes; "
        f"machine: {os.cpu_count()} cores",
        f"- score: **{len(killed)} / {len(run)} killed** ({len(survived)} survived, of which {len(equivalent)} "
        f"judged equivalent; {len(other)} timed out or errored); "
        f"{len(killed)} / {len(run) - len(equivalent)} of the mutants that change a numerical result",
        f"- not applied (snippet not found exactly once, not counted): {len(not_applied)}",
        "",
    ]
    if missing:
        lines += ["Tests named in the list but not found (renamed?), left out: "
                  + ", ".join(f"`{test}`" for test in missing), ""]
    if baseline is not None:
        failing, broken, baseline_seconds = baseline
        lines += [f"Baseline (unmutated copy, {baseline_seconds / 60:.1f} minutes): "
                  + ("every selected test passes." if not failing and not broken else
                     f"{len(failing)} selected tests fail without any mutation and were deselected from every "
                     f"mutant's run: " + ", ".join(f"`{node}`" for node in failing)
                     + ("; files that fail to collect: " + ", ".join(broken) if broken else "")), ""]
    if survived:
        lines += ["## Survivors", "", "| mutant | file | change | judgement |", "|---|---|---|---|"]
        for item in survived:
            judgement = (f"equivalent: {item.equivalent}" if item.equivalent
                         else "**a test gap**: " + (item.gap or "not judged yet"))
            lines.append(f"| `{item.id}` | {item.file} | {markdown_cell(item.description)} | "
                         f"{markdown_cell(judgement)} |")
        lines.append("")
    if not_applied:
        lines += ["## Not applied", "", "| mutant | file | problem |", "|---|---|---|"]
        lines += [f"| `{item.id}` | {item.file} | {problem} |" for item, problem in not_applied]
        lines.append("")
    lines += ["## Every mutant", "", "| mutant | file | change | tests | outcome | seconds | first failing test |",
              "|---|---|---|---|---|---|---|"]
    for item, result in run.items():
        tests = "<br>".join(test.replace("tests/", "") for test in item.tests)
        lines.append(f"| `{item.id}` | {item.file} | {markdown_cell(item.description)} | {tests} | "
                     f"{result['outcome']} | {result['seconds']:.0f} | {markdown_cell(result['killed_by'])} |")
    with open(path, "w", encoding="utf-8") as stream:
        stream.write("\n".join(lines) + "\n")


# -------------------------------------------------------------------------------------------------------- main
def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", metavar="ID", help="run only these mutants")
    parser.add_argument("--tests", nargs="+", metavar="TEST",
                        help="run the selected mutants against these tests instead of their own (e.g. whole files, "
                             "to check whether any test kills a survivor)")
    parser.add_argument("--deselect", nargs="+", metavar="TEST", default=[],
                        help="tests to leave out of every run (e.g. ones known to fail without mutation)")
    parser.add_argument("--list", action="store_true", help="list the mutants (and whether each applies) and exit")
    parser.add_argument("--dry-run", action="store_true",
                        help="show where `import rbm` resolves in a copy and each mutant's command; run nothing")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run side by side (default 1)")
    parser.add_argument("--report", help="write the results as a markdown table to this path")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per mutant (default 900)")
    parser.add_argument("--baseline-timeout", type=float, default=3600.0,
                        help="seconds for the baseline run (default 3600)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the unmutated run (tests failing without mutation then count as kills)")
    parser.add_argument("--python", default=os.path.join(REPO, ".venv", "bin", "python"),
                        help="the interpreter that runs pytest (default: the project's .venv)")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "mutants"),
                        help="scratch folder for the copies and logs (default /tmp/mutants)")
    parser.add_argument("--keep", action="store_true", help="keep each mutant's copy")
    arguments = parser.parse_args(argv)
    if arguments.jobs < 1:
        parser.error("--jobs must be >= 1")
    if arguments.report and not os.path.isdir(os.path.dirname(os.path.abspath(arguments.report))):
        parser.error(f"the folder of --report {arguments.report!r} does not exist")
    return arguments


def select(only):
    ids = [item.id for item in MUTANTS]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SystemExit(f"duplicate mutant ids: {duplicates}")
    if not only:
        return list(MUTANTS)
    unknown = sorted(set(only) - set(ids))
    if unknown:
        raise SystemExit(f"unknown mutant ids: {unknown} (see --list)")
    return [item for item in MUTANTS if item.id in only]


def main(argv=None):
    arguments = parse_arguments(argv)
    items = select(arguments.only)
    if arguments.tests:
        items = [item._replace(tests=tuple(arguments.tests)) for item in items]
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, stop_running)
    if arguments.list:
        problems = {item.id: snippet_problem(REPO, item) for item in items}
        for item in items:
            status = problems[item.id] or ("applies; judged equivalent" if item.equivalent else "applies")
            print(f"{item.id:40} {item.file:28} {status}\n    {item.description}\n    tests: {' '.join(item.tests)}")
        print(f"{len(items)} mutants, {sum(p is None for p in problems.values())} apply")
        return 0
    os.makedirs(os.path.join(arguments.workdir, "logs"), exist_ok=True)
    # One snapshot of the working tree, taken now: every copy, the baseline's included, is made from it, so
    # that edits others make to the tree during the pass change nothing in it.
    files, tree = repository_files(REPO), describe_tree(REPO)
    snapshot = os.path.join(arguments.workdir, "_snapshot")
    copy_repository(REPO, files, snapshot)
    problems = {item.id: snippet_problem(snapshot, item) for item in items}
    copy, location = check_import(arguments.python, snapshot, files, arguments.workdir)
    print(f"import rbm in a copy ({copy}) resolves to {location}", flush=True)
    # Tests are renamed while others work: run each mutant's tests that exist, and report the others.
    collected = collected_tests(arguments.python, snapshot, items)
    missing = sorted({test for item in items for test in item.tests if not selection_exists(test, collected)})
    if missing:
        print(f"tests not found (left out of every run): {missing}", flush=True)
    items = [item._replace(tests=tuple(t for t in item.tests if t not in missing)) for item in items]
    for item in items:
        if not item.tests and not problems[item.id]:
            problems[item.id] = "none of its tests exists"
    not_applied = [(item, problems[item.id]) for item in items if problems[item.id]]
    to_run = [item for item in items if not problems[item.id]]
    for item, problem in not_applied:
        print(f"NOT APPLIED {item.id}: {problem} in {item.file}", flush=True)
    if arguments.dry_run:
        for item in to_run:
            print(f"{item.id}: {arguments.python} -m pytest -q -x -p no:cacheprovider {' '.join(item.tests)}")
        return 0
    started, clock = datetime.datetime.now(), time.perf_counter()
    baseline, deselect = None, list(arguments.deselect)
    if not arguments.no_baseline:
        print(f"baseline: every selected test on an unmutated copy ({len(collapse([i.tests for i in to_run]))} "
              "selections) ...", flush=True)
        baseline = run_baseline(arguments.python, snapshot, files, to_run, arguments.workdir,
                                arguments.baseline_timeout)
        failing, broken, baseline_seconds = baseline
        deselect = sorted(set(deselect) | set(failing))
        print(f"baseline: {baseline_seconds:.0f} s, {len(failing)} failing tests deselected: {failing}; "
              f"files that fail to collect: {broken}", flush=True)
        to_run_now = [item for item in to_run if not any(test.split("::")[0] in broken for test in item.tests)]
        for item in to_run:
            if item not in to_run_now:
                not_applied.append((item, "its test file fails to collect without any mutation"))
        to_run = to_run_now
    results = {}

    def run(item):
        return item, run_mutant(item, arguments.python, snapshot, files, arguments.workdir, arguments.timeout,
                                deselect, arguments.keep)

    def record(item, result):
        results[item] = result
        print(f"[{len(results)}/{len(to_run)}] {item.id}: {result['outcome']} in {result['seconds']:.0f} s"
              + (f" by {result['killed_by']}" if result["killed_by"] else ""), flush=True)

    sanity, rest = to_run[:1], to_run[1:]
    if sanity and sanity[0].id == MUTANTS[0].id:  # the sanity mutant first, alone: it must be killed
        record(*run(sanity[0]))
        if results[sanity[0]]["outcome"] != "killed":
            raise SystemExit(f"the sanity mutant {sanity[0].id} was not killed ({results[sanity[0]]['outcome']}): "
                             f"the tests do not see the mutated copies; see {results[sanity[0]]['log']}")
    else:
        rest = to_run
    with concurrent.futures.ThreadPoolExecutor(max_workers=arguments.jobs) as pool:
        for future in concurrent.futures.as_completed([pool.submit(run, item) for item in rest]):
            record(*future.result())
    results = {item: results[item] for item in to_run}  # the list's order
    if not arguments.keep:
        shutil.rmtree(snapshot, ignore_errors=True)
    seconds = time.perf_counter() - clock
    killed = sum(result["outcome"] == "killed" for result in results.values())
    survivors = [item for item, result in results.items() if result["outcome"] == "survived"]
    print(f"\nscore: {killed} / {len(results)} killed in {seconds / 60:.1f} minutes; "
          f"{len(not_applied)} not applied")
    for item in survivors:
        print(f"SURVIVED {item.id}: {item.description}"
              + (f" (judged equivalent: {item.equivalent})" if item.equivalent
                 else f" (test gap: {item.gap})" if item.gap else ""))
    if arguments.report:
        command = "python tools/mutants.py " + " ".join(argv if argv is not None else sys.argv[1:])
        write_report(arguments.report, command, results, not_applied, baseline, started, seconds, tree, missing)
        print(f"report written to {arguments.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
