"""Collapse time of your own training set, against the closed form (THEORY.md section 4).

Replace ``points`` by any ``[P, N]`` array (``np.load("my_points.npy")``). Here: an anisotropic
Gaussian made by hand, P = exp(alpha N) points. Prints the four estimators with their bootstrap
errors beside the Gaussian theory for the same spectrum and load. About 20 s on 2 CPU cores
(``--quick``: a few seconds).
"""

import argparse
import math

import jax
import numpy as np

import diffsim as ds

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="a smaller run (tests)")
args = parser.parse_args()

dim, alpha = (12, 0.3) if args.quick else (20, 0.3)
variances = np.linspace(0.5, 1.5, dim)
rng = np.random.default_rng(0)
points = rng.standard_normal((round(math.exp(alpha * dim)), dim)) * np.sqrt(variances)  # your data here

train = ds.TrainingSet.from_points(points)
result = ds.measure_collapse(jax.random.key(0), train, n_trajectories=64 if args.quick else 256,
                             n_steps=200, record_every=4, entropy_samples=128 if args.quick else 512)

# Theory is a separate call: the Gaussian with the true spectrum, and with the data's own sample spectrum.
t_true = ds.theory.collapse_time(result.load, ds.theory.Spectrum.from_eigenvalues(variances))
t_data = ds.theory.collapse_time(result.load, ds.theory.Spectrum.from_points(points))
print(f"N = {result.dim}, P = {result.n_points}, load log(P)/N = {result.load:.3f}")
print(f"theory t_C: {float(t_true):.4f} (true spectrum), {float(t_data):.4f} (sample spectrum)")
for name, estimate in result.estimates.items():
    print(f"{name:>13}: {estimate.value:.4f} ± {estimate.stderr:.4f}")
