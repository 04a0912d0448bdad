"""The package version and the source folder, importable by any module without importing the package."""

from pathlib import Path

__version__ = "0.1.0"
SOURCE_ROOT = Path(__file__).resolve().parents[1]  # the checkout (git commit of results and figures)
