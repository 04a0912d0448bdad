"""One naming scheme for quantities in result tables and JSON (``diffsim.results``, "Names of quantities"):
a measured quantity ``<name>``, its closed form ``theory/<name>[_<variant>]``, an estimator
``<name>/<estimator>``; never ``<name>_theory`` or ``theory_<name>``."""

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from diffsim.measure.collapse import CollapseOptions
from diffsim.studies.collapse import CollapseConfig, run_collapse
from diffsim.measure.generalization import GeneralizationOptions
from diffsim.measure.rem import RemOptions
from diffsim.measure.speciation import SpeciationOptions
from diffsim.measure.traps import TrapsOptions
from diffsim.specs import DataSpec
from diffsim.studies.generalization import GeneralizationConfig, run_generalization
from diffsim.studies.rem import RemConfig, run_rem
from diffsim.studies.speciation import SpeciationConfig, run_speciation
from diffsim.studies.traps import TrapsConfig, run_traps

STUDIES = Path(__file__).resolve().parents[1] / "diffsim" / "studies"
MEASURE = STUDIES.parent / "measure"
NAME = re.compile(r"^(theory/)?[A-Za-z][A-Za-z0-9_]*(/[a-z][a-z0-9_]*)*$")
THEORY_WORD = re.compile(r"(^|[_/])theory($|[_/])")


def bad_name(name: str) -> str | None:
    """Why ``name`` breaks the scheme, or None. ``theory`` alone is the nested theory object's key."""
    if name == "theory" or name.isdigit():
        return None
    if not NAME.match(name):
        return "not snake_case[/estimator]"
    if THEORY_WORD.search(name.removeprefix("theory/")):
        return "theory is marked by the prefix theory/, not by a _theory or theory_ part"
    return None


def check_rows(rows: list[dict]) -> list[str]:
    out = []
    for row in rows:
        for key in row:
            if (why := bad_name(key)) is not None:
                out.append(f"column {key!r}: {why}")
        if isinstance(row.get("quantity"), str) and (why := bad_name(row["quantity"])) is not None:
            out.append(f"quantity {row['quantity']!r}: {why}")
    return sorted(set(out))


def check_json(obj, path="") -> list[str]:
    out = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if path.endswith("config"):  # a study's parameters, not quantities
                continue
            if (why := bad_name(str(key))) is not None:
                out.append(f"key {path}/{key}: {why}")
            out += check_json(value, f"{path}/{key}")
    elif isinstance(obj, list):
        for item in obj[:3]:
            out += check_json(item, path)
    return out


@pytest.fixture(scope="module")
def rem():
    """A small real point of the rem study (a wide table; a few seconds, mostly compiling)."""
    return run_rem(RemConfig(data=DataSpec(model="gaussian", alpha=0.2, dim=12), measure=RemOptions(times=(0.2, 0.8), n_queries=16)))


@pytest.fixture(scope="module")
def points(rem):
    """Small real points of five studies (compiling takes most of the ~10 s each on 2 busy cores)."""
    return {
        "speciation": run_speciation(SpeciationConfig(data=DataSpec(model="mixture", dim=8), measure=SpeciationOptions(
            n_pairs=32, n_branch=4, n_steps=40, n_bootstrap=20))),
        "rem": rem,
        "traps": run_traps(TrapsConfig(data=DataSpec(model="gaussian", alpha=0.2, dim=12),
                                       measure=TrapsOptions(times=(0.25, 0.6), n_starts=8, n_random=8))),
        "collapse": run_collapse(CollapseConfig(data=DataSpec(alpha=0.3, dim=8), measure=CollapseOptions(
            n_trajectories=16, n_steps=40, record_every=4, n_clone_pairs=8, entropy_samples=16, n_bootstrap=20))),
        "generalization": run_generalization(GeneralizationConfig(data=DataSpec(model="gaussian", alpha=0.2, dim=8), n_times=6,
                                                                  n_test=32, measure=GeneralizationOptions(n_proj=0))),
    }


def test_rows_and_json_of_a_small_rem_run_follow_the_scheme(rem):
    assert check_rows(rem.rows()) == []
    assert check_json(rem.to_json()) == []
    assert {"mean_y2", "mean_y2_stderr", "theory/mean_y2", "theory/mean_y2_spectrum", "log_z_per_dim",
            "theory/log_z_per_dim", "theory/t_collapse"} <= set(rem.rows()[0])


@pytest.mark.slow
def test_rows_and_json_of_small_runs_follow_the_scheme(points):
    for name, result in points.items():
        assert check_rows(result.rows()) == [], name
        assert check_json(result.to_json()) == [], name


@pytest.mark.slow
def test_a_closed_form_is_named_after_the_quantity_it_predicts(points):
    """Stripping ``theory/`` (and a ``_<variant>``) gives the measured name, in long and wide tables."""
    long = {name: {r["quantity"] for r in points[name].rows()} for name in ("speciation", "collapse")}
    assert {"phi", "theory/phi", "t_speciation", "theory/t_speciation"} <= long["speciation"]
    assert {"excess_entropy", "theory/excess_entropy", "t_collapse/clones", "theory/t_collapse",
            "theory/t_collapse_spectrum"} <= long["collapse"]
    assert {"basin_radius", "theory/basin_radius", "theory/t_onset", "theory/t_collapse"} <= set(points["traps"].rows()[0])
    summary = next(r for r in points["generalization"].rows() if r["quantity"] == "t_g")
    assert {"t_g", "t_g/sw", "theory/t_g", "theory/t_g_spectrum", "theory/t_collapse"} <= set(summary)
    curve = next(r for r in points["generalization"].rows() if r["quantity"] == "curve")
    assert {"kl_per_dim", "kl_per_dim_stderr", "theory/kl_per_dim_spectrum"} <= set(curve)


def test_the_checks_catch_the_old_names():
    assert bad_name("excess_entropy_theory") and bad_name("theory_y2") and bad_name("t_collapse theory")
    assert check_rows([{"quantity": "phi_theory", "value": 1.0}]) and check_rows([{"theory_basin_radius": 1.0}])
    assert check_json({"rows": [{"t_g_theory": 1.0}]}) and not check_json({"theory": {"t_collapse": 1.0}})
    assert not bad_name("t_collapse/clones/extrapolated") and not bad_name("theory/t_collapse_linear_hmm")


def _literal_names(tree) -> list[tuple[int, str]]:
    """Names a study writes: constant dict keys, subscript stores ``row["x"] = ...``, and the values of
    ``"quantity"`` (f-strings with their placeholders read as ``x``)."""

    def text(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values)
        return None

    out = []
    # the memory check's knobs={"measure.n_queries": ...} name config paths, not quantities
    knobs = {id(k.value) for k in ast.walk(tree) if isinstance(k, ast.keyword) and k.arg == "knobs"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict) and id(node) not in knobs:
            for k, v in zip(node.keys, node.values):
                key = None if k is None else text(k)
                if key is not None:
                    out.append((k.lineno, key))
                    if key == "quantity" and text(v) is not None:
                        out.append((v.lineno, text(v)))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) and text(node.slice) is not None:
            out.append((node.lineno, text(node.slice)))
    return out


@pytest.mark.parametrize("path", sorted(STUDIES.glob("*.py")), ids=lambda p: p.name)
def test_the_studies_write_no_name_that_breaks_the_scheme(path):
    names = _literal_names(ast.parse(path.read_text()))
    bad = [f"{path.name}:{line}: {name!r}: {why}" for line, name in names
           if not re.search(r"[ *]", name) and (why := bad_name(name)) is not None]  # prose and globs: not names
    assert bad == []


# ----------------------------------------------------------------------------- one name per concept

RETIRED = {
    # the memorized fraction (1/3 rule) had five spellings; it is memorized_fraction[_<qualifier>]
    "memorization", "memorization_fraction", "memorized", "memorized_few", "memorized_own", "memorized_exact",
    "diff_memorized",
    # guidance's collapse time is t_collapse like every other collapse time
    "collapse_time", "collapse_time_small",
    # the score error to the true (empirical) score is score_error_true (score_error_empirical)
    "score_error", "err_true", "err_empirical", "diff_score_error",
}
MEMORIZED = re.compile(r"^memorized_fraction(_[a-z]+)*$")
NOT_THE_FRACTION = {  # names with "memoriz" in them that are not the memorized fraction
    "memorized_condition",  # guidance: a condition's flag, memorized_fraction >= 1/2 at the smallest g
    "dsm_loss_memorized",  # guidance: DSM loss over the memorized conditions
    "less_memorization_than_none", "less_memorization_than_random",  # separation_pruning: verdicts
    "memorizes", "width_memorize",  # separation_size: the criterion and the smallest width meeting it
}


def _name_constants(tree) -> list[tuple[int, str]]:
    """Every string constant that reads as a name (no space), outside f-strings (display text),
    docstrings and ``__all__``: the names a module can write,
    including those in tuples such as ``QUANTITIES`` that rows are built from."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip.update(id(n) for n in ast.walk(node))
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            skip.update(id(n) for n in ast.walk(node.value))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):  # docstrings
            skip.add(id(node.value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
            and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_/]*", node.value)]


def retired_or_misspelled(names) -> list[str]:
    out = []
    for line, name in names:
        base = name.removesuffix("_stderr")
        if base in RETIRED:
            out.append(f"{line}: {name!r} is retired")
        elif "memoriz" in name and not MEMORIZED.match(base) and name not in NOT_THE_FRACTION:
            out.append(f"{line}: {name!r}: the memorized fraction is memorized_fraction[_<qualifier>]")
    return out


@pytest.mark.parametrize("path", sorted(STUDIES.glob("*.py")) + sorted(MEASURE.glob("*.py")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_study_or_measurement_writes_a_retired_name(path):
    assert retired_or_misspelled(_name_constants(ast.parse(path.read_text()))) == []


def test_the_retired_name_check_catches_them():
    tree = ast.parse('''
QUANTITIES = ("D1", "collapse_time")
def rows(r):
    """memorized"""
    label = f"{'memorized':>9}"
    return {"memorized_own_stderr": 1, "memorize_rate": 2, "quantity": "memorized_fraction_few",
            "memorized_condition": True}
''')
    assert sorted(retired_or_misspelled(_name_constants(tree))) == [
        "2: 'collapse_time' is retired", "6: 'memorize_rate': the memorized fraction is memorized_fraction[_<qualifier>]",
        "6: 'memorized_own_stderr' is retired"]


def test_guidance_names_its_collapse_time_t_collapse():
    from diffsim.measure.guidance import QUANTITIES
    from diffsim.studies.guidance import DEFINITIONS, guidance_trend

    assert {"t_collapse", "memorized_fraction"} <= set(QUANTITIES) and "t_collapse" in DEFINITIONS
    rows = [{"kind": "cell", "n_class_points": 1, "guidance": g, "t_collapse": 0.1 * g, "t_collapse_stderr": 0.01}
            for g in (1.0, 2.0)]
    assert guidance_trend(rows)["value"] == pytest.approx([0.1, 0.2])  # the default quantity


def test_denoiser_from_rows_reads_its_quantity_names():
    """``memorized_fraction`` curves and ``theory/t_collapse`` rows give the members' curves and the
    theory (a table with the names before the renames is refused by its schema)."""
    from diffsim.studies.denoiser import DenoiserConfig, DenoiserResult

    config = DenoiserConfig(widths=(16,), n_train=(4, 8), n_seeds=1)
    curve = [0.0, 0.25, 0.5, 1.0]
    rows = [{"width": 16, "P": p, "seed": 0, "step": 10 * 2**i, "quantity": "memorized_fraction", "t": None, "value": v}
            for p in config.n_train for i, v in enumerate(curve)]
    rows += [{"width": None, "P": p, "seed": None, "step": None, "quantity": "theory/t_collapse", "t": None,
              "value": 0.1 * p} for p in config.n_train]
    result = DenoiserResult.from_rows(config, rows)
    assert result.theory["t_collapse"] == {4: pytest.approx(0.4), 8: pytest.approx(0.8)}
    assert [list(m.curves) for m in result.members] == [["memorized_fraction"]] * 2
    np.testing.assert_array_equal(result.members[1].curves["memorized_fraction"], curve)
    # the crossing of 1/2 is the third checkpoint, step 40
    assert [s["tau_mem"] for s in result.tau_mem_scaling((0.5,))] == [{4: pytest.approx(40.0), 8: pytest.approx(40.0)}]
