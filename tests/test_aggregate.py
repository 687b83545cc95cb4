import json
import math

import numpy as np
import pandas as pd
import pytest

from synpretrain.aggregate import (learning_curves, load_evaluations, mark_diverged, table1, table1_columns,
                                   table_latex, table_markdown, worse_than_constant_lines)


def evaluation(kind, source, n, seed, energy, force, npre=10, target="t", finite=True, nan_val=False):
    return {"kind": kind, "source": source, "npre": npre if kind != "direct" else 0, "target": target,
            "n": n, "seed": seed, "testset": target, "energy_rmse_mev_per_atom": energy,
            "force_rmse_ev_per_a": force, "finite_predictions": finite, "nan_in_validation": nan_val}


@pytest.fixture
def runs(tmp_path):
    rows = [
        evaluation("direct", "direct", 25, 1, 100.0, 1.0),
        evaluation("direct", "direct", 25, 2, 110.0, 1.2),
        evaluation("direct", "direct", 25, 3, 900.0, 1.1),           # a sudden increase: > 3 x median
        evaluation("finetune", "ace", 25, 1, 50.0, 0.5),
        evaluation("finetune", "ace", 25, 2, 54.0, 0.7),
        evaluation("finetune", "ace", 25, 3, 52.0, 0.6),
        evaluation("finetune", "ace", 50, 1, 40.0, 0.4, nan_val=True),  # NaN in validation
        evaluation("finetune", "ace", 50, 2, 42.0, 0.45),
    ]
    paths = []
    for i, row in enumerate(rows):
        path = tmp_path / f"{i}.json"
        path.write_text(json.dumps(row))
        paths.append(path)
    return load_evaluations(paths)


def test_diverged_runs_are_flagged_not_dropped(runs):
    assert len(runs) == 8
    flagged = runs[runs["diverged"]]
    assert sorted(zip(flagged["kind"], flagged["n"], flagged["seed"])) == [("direct", 25, 3), ("finetune", 50, 1)]


def test_learning_curve_points_best_mean_std(runs):
    curves = learning_curves(runs)
    direct = curves[(curves["kind"] == "direct") & (curves["n"] == 25)].iloc[0]
    assert direct["energy_best"] == 100.0 and direct["force_best"] == 1.0      # best of seeds, per metric
    assert direct["energy_mean"] == pytest.approx(370.0)
    assert direct["energy_std"] == pytest.approx(np.std([100, 110, 900], ddof=1))
    assert (direct["n_seeds"], direct["n_diverged"]) == (3, 1)
    assert (direct["energy_min"], direct["energy_max"]) == (100.0, 900.0)


def test_table1_mean_std_and_asterisks(runs):
    table = table1(runs, target="t", npre=10, sources=["ace"], labels={"ace": "C-ACE"})
    assert list(table.columns) == ["Direct", "C-ACE"] and list(table.index) == [25, 50]
    assert table.loc[25, "Direct"] == f"370.0 ± {np.std([100, 110, 900], ddof=1):.1f}*"
    assert table.loc[25, "C-ACE"] == "52.0 ± 2.0"
    assert table.loc[50, "C-ACE"] == f"41.0 ± {np.std([40, 42], ddof=1):.1f}*"
    assert table.loc[50, "Direct"] == ""                                          # no runs: left empty


def test_non_finite_predictions_count_as_diverged():
    frame = pd.DataFrame([evaluation("direct", "direct", 25, s, e, 1.0, finite=f)
                          for s, e, f in ((1, 100.0, True), (2, math.inf, False))])
    frame["target"] = frame["target"].fillna("")
    assert mark_diverged(frame)["diverged"].tolist() == [False, True]


def with_constants(record, energy_constant, force_constant):
    """A record as `evaluation.evaluate` writes it now: with the constant predictors' errors."""
    return {**record, "energy_rmse_mean_predictor_mev_per_atom": energy_constant,
            "force_rmse_zero_predictor_ev_per_a": force_constant}


@pytest.fixture
def broken_runs(tmp_path):
    """Direct n = 25 seed 3 worse than the mean energy (900 > 300 meV/atom); fine-tuned n = 50 seed 2
    worse than zero force (2.5 > 2.0 eV/Å); an old record without constants; the rest good."""
    rows = [
        with_constants(evaluation("direct", "direct", 25, 1, 100.0, 1.0), 300.0, 2.0),
        with_constants(evaluation("direct", "direct", 25, 2, 110.0, 1.2), 300.0, 2.0),
        with_constants(evaluation("direct", "direct", 25, 3, 900.0, 1.1), 300.0, 2.0),
        with_constants(evaluation("finetune", "ace", 25, 1, 50.0, 0.5), 300.0, 2.0),
        with_constants(evaluation("finetune", "ace", 25, 2, 54.0, 0.7), 300.0, 2.0),
        with_constants(evaluation("finetune", "ace", 50, 1, 40.0, 0.4), 300.0, 2.0),
        with_constants(evaluation("finetune", "ace", 50, 2, 42.0, 2.5), 300.0, 2.0),
        evaluation("direct", "direct", 50, 1, 5000.0, 9.0),               # old: constants unknown
    ]
    paths = []
    for i, row in enumerate(rows):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(row))
    return load_evaluations(paths)


def test_runs_worse_than_a_constant_predictor_are_flagged_per_metric(broken_runs):
    flagged = broken_runs[broken_runs["worse_than_constant"]]
    assert sorted(zip(flagged["kind"], flagged["n"], flagged["seed"])) == [("direct", 25, 3), ("finetune", 50, 2)]
    assert broken_runs["energy_worse_than_constant"].sum() == 1 and broken_runs["force_worse_than_constant"].sum() == 1
    old = broken_runs[(broken_runs["kind"] == "direct") & (broken_runs["n"] == 50)].iloc[0]
    assert not old["worse_than_constant"]                                 # no constants: not flagged


def test_learning_curves_count_runs_worse_than_constant(broken_runs):
    curves = learning_curves(broken_runs).set_index(["kind", "n"])
    direct = curves.loc[("direct", 25)]
    assert (direct["n_worse_than_constant"], direct["energy_n_worse_than_constant"],
            direct["force_n_worse_than_constant"]) == (1, 1, 0)
    assert (direct["energy_constant"], direct["force_constant"]) == (300.0, 2.0)
    finetuned = curves.loc[("finetune", 50)]
    assert (finetuned["energy_n_worse_than_constant"], finetuned["force_n_worse_than_constant"]) == (0, 1)
    assert curves.loc[("finetune", 25), "n_worse_than_constant"] == 0
    old = curves.loc[("direct", 50)]
    assert old["n_worse_than_constant"] == 0 and math.isnan(old["energy_constant"])


def test_table1_daggers_cells_worse_than_constant_and_lists_them(broken_runs):
    table = table1(broken_runs, target="t", npre=10, sources=["ace"], labels={"ace": "C-ACE"})
    direct_std = np.std([100, 110, 900], ddof=1)
    assert table.loc[25, "Direct"] == f"370.0 ± {direct_std:.1f}*†"           # diverged (an outlier) and worse
    assert table.loc[50, "C-ACE"] == f"41.0 ± {np.std([40, 42], ddof=1):.1f}†"   # worse in forces only
    assert table.loc[25, "C-ACE"] == "52.0 ± 2.8" and table.loc[50, "Direct"] == "5000.0"   # good; old record
    lines = worse_than_constant_lines(pd.concat(table1_columns(broken_runs, "t", 10, ["ace"], {}).values()))
    assert lines == [
        "direct/t/n25/seed3 on t: energy RMSE 900.0 meV/atom > 300.0 meV/atom of predicting the test set's mean "
        "energy per atom",
        "finetune/ace/n10/t/n50/seed2 on t: force RMSE 2.500 eV/Å > 2.000 eV/Å of predicting zero force"]
    markdown = table_markdown(table, "caption", lines)
    assert f"| 25 | 370.0 ± {direct_std:.1f}*† |" in markdown and f"- {lines[1]}" in markdown
    latex = table_latex(table, "caption")
    assert f"{direct_std:.1f}$^{{*\\dagger}}$" in latex and r"1.4$^\dagger$ \\" in latex


def test_latex_marks_of_a_diverged_cell_are_unchanged():
    table = pd.DataFrame({"Direct": ["61.1 ± 5.4*", "60.0"]}, index=pd.Index([5, 10], name="n"))
    assert r"5 & 61.1 $\pm$ 5.4$^*$ \\" in table_latex(table, "c") and r"10 & 60.0 \\" in table_latex(table, "c")


def test_records_without_constants_flag_nothing(runs):
    assert not runs["worse_than_constant"].any()
    curves = learning_curves(runs)
    assert (curves["n_worse_than_constant"] == 0).all() and curves["energy_constant"].isna().all()
    assert worse_than_constant_lines(runs) == []
    assert "†" not in "".join(table1(runs, "t", 10, ["ace"], {}).to_numpy().ravel())
