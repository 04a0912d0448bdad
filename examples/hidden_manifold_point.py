"""One Hidden-Manifold point: data on a D-dimensional curved manifold in N dimensions
(``a = phi(F z / sqrt(D))``, THEORY.md section 2), its collapse time measured and compared with the
linear-HMM (Marchenko-Pastur), Gaussian-equivalent and isotropic predictions. About 20 s on 2 CPU
cores (``--quick``: a few seconds).
"""

import argparse

import jax

import diffsim as ds

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="a smaller run (tests)")
parser.add_argument("--nonlinearity", default="tanh", choices=ds.theory.NONLINEARITIES)
args = parser.parse_args()

dim, alpha, alpha_d = (12, 0.3, 0.5) if args.quick else (24, 0.3, 0.5)
model = ds.data.make("hmm", dim, alpha_d=alpha_d, nonlinearity=args.nonlinearity, key=jax.random.key(1))
train = ds.TrainingSet.from_points(model.sample(jax.random.key(2), ds.data.points_at_load(alpha, dim)))
result = ds.measure_collapse(jax.random.key(0), train, n_trajectories=64 if args.quick else 256, n_steps=200,
                             record_every=4, estimators=("condensation", "entropy"))

theory = ds.theory.hmm_collapse_theory(result.load, alpha_d, args.nonlinearity)
finite_n = ds.theory.collapse_time(result.load, ds.theory.Spectrum.from_eigenvalues(model.covariance_spectrum()))
print(f"HMM, phi = {args.nonlinearity}: N = {dim}, D = {model.latent_dim}, P = {result.n_points}")
for name, estimate in result.estimates.items():
    print(f"  measured {name:>12}: {estimate.value:.4f} ± {estimate.stderr:.4f}")
print(f"  theory, Gaussian with the exact finite-N covariance: {float(finite_n):.4f}")
for name, value in theory.items():
    print(f"  theory, {name}: {value:.4f}")
