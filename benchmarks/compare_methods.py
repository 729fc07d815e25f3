import sys, time, json
import numpy as np
import rbm
from rbm import evaluation
from rbm.datasets import load_mnist
binarization = sys.argv[3] if len(sys.argv) > 3 else "threshold"
mnist = load_mnist("../shared/data/mnist", binarize_method=binarization, seed=123)
X, T = mnist.train.X.astype(np.float32), mnist.test.X.astype(np.float32)
epochs = int(sys.argv[1])
print(f"# {binarization} binarisation, {epochs} epochs, batch 100, 100 persistent chains (PCD, PT), Hinton init, mode cpu, float32", flush=True)
for cfg in json.loads(sys.argv[2]):
    model = rbm.RBM.from_data(X, n_hidden=500, numpy_rng=1, seed=1, dtype="float32")
    cd = cfg.get("cd", False)
    tr = rbm.Trainer(model, learning_rate=cfg.get("lr", 0.01), k=cfg.get("k", 1), batch_size=100,
                     persistent=not cd, n_chains=None if cd else 100, centering=cfg.get("centering", False),
                     tempering=cfg.get("tempering"), mode="cpu", seed=1)
    t = time.perf_counter()
    h = tr.fit(X, epochs=epochs, verbose=False)
    tt = time.perf_counter() - t
    r = evaluation.ais_log_partition(model, n_runs=100, base_rate=X, seed=1, mode="cpu")
    test_ll = evaluation.mean_log_likelihood(model, T, r.log_z)
    rows = np.random.default_rng(0).permutation(len(T))[:200]
    raised = evaluation.raise_log_likelihood(model, T[rows], betas=np.linspace(0, 1, 5000), base_rate=X, seed=1, mode="cpu")
    d = raised.per_row - (-evaluation.free_energy(model, T[rows]) - r.log_z)
    extra = f" swap rates {np.round(h[-1]['swap_rates'], 2).tolist()}" if "swap_rates" in h[-1] else ""
    print(cfg, f"train {tt/60:.1f} min; AIS log Z {r.log_z:.2f} [{r.log_z_low:.2f}, {r.log_z_high:.2f}]; "
          f"train LL {evaluation.mean_log_likelihood(model, X, r.log_z):.2f}; test LL (AIS) {test_ll:.2f}; "
          f"RAISE-bracketed low {test_ll + d.mean():.2f} +- {d.std(ddof=1)/np.sqrt(len(d)):.2f}{extra}", flush=True)
