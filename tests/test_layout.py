"""The package's layout promises (issue 11), read from the source with ``ast``: closed forms only in
``diffsim/theory``, estimators that do not simulate, one definition per concept."""

import ast
from pathlib import Path

import diffsim

ROOT = Path(diffsim.__file__).parent
MODULES = {p: ast.parse(p.read_text()) for p in ROOT.rglob("*.py")}


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT.parent))


def _defs(tree):
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, []


def test_no_closed_form_is_defined_outside_theory():
    theory_names = {"asymptotic_spectrum", "gaussian_equivalent_spectrum", "activation_moments"}
    offenders = [
        f"{_relative(p)}: {d.name}"
        for p, tree in MODULES.items()
        if "theory" not in p.relative_to(ROOT).parts
        for d in _defs(tree)
        if d.name.endswith("_theory") or d.name in theory_names
    ]
    assert not offenders, offenders
    for name in ("hmm_collapse_theory", "asymptotic_spectrum", "rem_theory", "traps_theory", "generalization_time",
                 "gaussian_equivalent_spectrum", "collapse_time", "mean_y2", "basin_radius"):
        assert getattr(diffsim.theory, name).__module__.startswith("diffsim.theory."), name


def test_theory_modules_share_numerics_through_one_private_module():
    for p, tree in MODULES.items():
        if p.parent.name != "theory":
            continue
        for module, names in _imports(tree):
            if module.startswith("diffsim.theory.") and module != "diffsim.theory._numerics":
                private = [n for n in names if n.startswith("_")]
                assert not private, f"{_relative(p)} imports private {private} from {module}"


def test_estimators_do_not_simulate():
    tree = MODULES[ROOT / "observe.py"]
    imported = {m for m, _ in _imports(tree)}
    assert not {"diffsim.sample", "diffsim.measure"} & imported, imported


def test_one_definition_per_concept():
    names = {}
    for p, tree in MODULES.items():
        for d in _defs(tree):
            if isinstance(d, ast.FunctionDef) and d.col_offset == 0 and not d.name.startswith("_"):
                names.setdefault(d.name, []).append(_relative(p))
    for name in ("sliced_wasserstein", "crossing_step", "fit_power_law", "noised_training_queries", "bootstrap",
                 "points_at_load", "clone_protocol", "has_exact_score", "log_sigma_times", "noise_prediction", "denoised", "time_column",
                 "solver"):
        assert len(names.get(name, [])) == 1, (name, names.get(name))


def test_load_to_size_is_computed_in_one_place():
    """``P = round(exp(alpha N))`` has one home, :func:`diffsim.data.points_at_load`."""
    offenders = []
    for p, tree in MODULES.items():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "round" and node.args
                    and isinstance(node.args[0], ast.Call) and getattr(node.args[0].func, "attr", None) == "exp"):
                offenders.append(f"{_relative(p)}:{node.lineno}")
    assert offenders == ["diffsim/data/__init__.py:" + str(_line_of_points_at_load())], offenders


def _line_of_points_at_load() -> int:
    tree = MODULES[ROOT / "data" / "__init__.py"]
    fn = next(d for d in _defs(tree) if d.name == "points_at_load")
    return next(n.lineno for n in ast.walk(fn) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "round")


def test_score_code_lives_in_score():
    import diffsim.score

    assert diffsim.score.masked_training_set.__module__ == "diffsim.score._layout"


def test_a_sweep_grid_sets_config_fields_only():
    """No special case turns a grid key ``N`` into ``dims = (N,)``: a study config is one point and
    its dimension field is ``dim``."""
    import pytest

    from diffsim.config import parse_experiment

    raw = {"study": "collapse", "seeds": [0], "grid": {"N": [8, 10]}}
    with pytest.raises(diffsim.ConfigError, match="unknown parameter 'N'"):
        parse_experiment(raw)
    cells = parse_experiment({"study": "collapse", "seeds": [0], "grid": {"data": {"dim": [8, 10]}}}).cells
    assert [c.config.data.dim for c in cells] == [8, 10]
