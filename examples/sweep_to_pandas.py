"""A sweep read into pandas: run a small collapse sweep (two loads x three N, one cell per point)
into a temporary folder, then load its tidy table and its summary (the 1/N extrapolations) with
pandas. About 40 s on 2 CPU cores (``--quick``: about 15 s). Needs pandas (``pip install pandas``).
"""

import argparse
import tempfile
from pathlib import Path

import pandas as pd

from diffsim.cli import main as diffsim

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="a smaller run (tests)")
args = parser.parse_args()

dims = "[8, 10]" if args.quick else "[8, 10, 12]"
experiment = f"""
study = "collapse"
seeds = [0]
[params.measure]
n_trajectories = 32
n_steps = 80
record_every = 4
n_clone_pairs = 16
n_branch = 6
clone_steps = 20
entropy_samples = 64
entropy_times = 12
n_bootstrap = 20
[grid]
data.alpha = [0.3, 0.4]
data.dim = {dims}
"""
with tempfile.TemporaryDirectory() as tmp:
    config = Path(tmp) / "collapse.toml"
    config.write_text(experiment)
    assert diffsim(["run", str(config), "--out", f"{tmp}/out", "--quiet"]) == 0
    table = pd.read_csv(f"{tmp}/out/table.csv")             # one row per cell x seed x quantity (x t)
    summary = pd.read_csv(f"{tmp}/out/summary.csv")         # analyses over the points of the sweep

estimates = table[table.quantity.str.startswith("t_collapse/")]
print(estimates.pivot_table(index=["alpha", "N"], columns="quantity", values="value").round(3).to_string())
theory = summary[summary.quantity == "theory/t_collapse"].set_index("alpha")["value"]
fits = summary[summary.quantity.str.endswith("/extrapolated")]
for alpha, group in fits.groupby("alpha"):
    print(f"alpha = {alpha}: theory t_C = {theory[alpha]:.3f}; 1/N extrapolations over N = {dims}:")
    for _, row in group.iterrows():
        print(f"  {row.quantity}: {row.value:.3f} ± {row.stderr:.3f}")
