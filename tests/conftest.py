import jax
import pytest


@pytest.fixture
def x64():
    """Run a test in float64 (closed-form comparisons at tight tolerance)."""
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", False)
