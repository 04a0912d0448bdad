"""Packaging (issue 15): the distribution's metadata, and a wheel built with ``python -m build`` that
installs into a fresh virtual environment and runs ``diffsim --version`` (slow: about a minute)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

import diffsim

REPO = Path(__file__).resolve().parents[1]
DIST = "diffsim-memorization"


def test_project_metadata_names_a_free_distribution_an_spdx_license_and_its_files():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    # "diffsim" on the package index is an unrelated diffraction package; the import name stays diffsim
    assert project["name"] == DIST
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    # one version, read by the build from diffsim/_version.py (the package, the CLI and results use it)
    dynamic = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["dynamic"]
    assert "version" in project["dynamic"] and dynamic["version"] == {"attr": "diffsim._version.__version__"}
    assert diffsim.__version__ == diffsim._version.__version__
    assert project["scripts"] == {"diffsim": "diffsim.cli:main"}
    assert "MIT License" in (REPO / "LICENSE").read_text()
    citation = (REPO / "CITATION.cff").read_text()
    assert "cff-version: 1.2.0" in citation and f"version: {diffsim.__version__}" in citation
    assert "## [0.1.0]" in (REPO / "CHANGELOG.md").read_text()
    extras = project["optional-dependencies"]
    assert {"pandas", "docs", "test"} <= set(extras)
    assert any(d.startswith("build") for d in extras["test"])


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_runs(tmp_path):
    if importlib.util.find_spec("build") is None:
        pytest.skip("needs the 'build' package (in the test extra: pip install -e '.[test]')")
    dist = tmp_path / "dist"
    # from a copy of the sources, so that build/ and *.egg-info never land in the checkout
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "results", "figures", ".pytest_cache", ".mypy_cache"))
    # --no-isolation: build with this environment's setuptools (>= 77 for the SPDX license), offline
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(source)],
                   check=True, capture_output=True, text=True, timeout=300)
    (wheel,) = dist.glob("*.whl")
    assert wheel.name.startswith("diffsim_memorization-" + diffsim.__version__)
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(meta_name).decode()
    assert "diffsim/py.typed" in names and "diffsim/cli.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: MIT" in metadata and f"Name: {DIST}" in metadata
    assert not any(n.startswith(("tests/", "paper_figures/", "benchmarks/")) for n in names)

    # A fresh venv: the wheel itself without its dependencies, which it borrows from this
    # environment through a .pth path line (so nothing is downloaded and this checkout's editable
    # install is not on its path).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)],
                   check=True, capture_output=True, text=True, timeout=300)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "_borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    out = subprocess.run([str(venv / "bin" / "diffsim"), "--version"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"diffsim {diffsim.__version__}"
    where = subprocess.run([str(python), "-c", "import diffsim, importlib.metadata as m; "
                            f"print(diffsim.__file__); print(m.version('{DIST}'))"],
                           capture_output=True, text=True, cwd=tmp_path, check=True).stdout.split()
    assert where[0].startswith(str(venv)) and where[1] == diffsim.__version__
