import json
import math

import numpy as np
import pandas as pd
import pytest

from synpretrain.aggregate import learning_curves, load_evaluations, mark_diverged, table1


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
