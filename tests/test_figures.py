"""A figure is a pure function of its experiment's tables: what it plots is what the table says."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from synpretrain.aggregate import learning_curves, mark_diverged, mark_worse_than_constant, read_table
from synpretrain.figures import fig3, fig5, fig6

ENERGY, FORCE = "energy_rmse_mev_per_atom", "force_rmse_ev_per_a"


def run(kind, source, n, seed, energy, force, npre=100, target="t", testset="t", strategy="all"):
    return {"kind": kind, "source": source, "npre": npre if kind == "finetune" else 0, "target": target, "n": n,
            "seed": seed, "testset": testset, ENERGY: energy, FORCE: force, "finite_predictions": True,
            "nan_in_validation": False, "strategy": strategy}


@pytest.fixture
def tables(tmp_path):
    """Hand-made runs (with a pre-trained model's empty target) written and read back as the
    workflow does: experiment_table writes CSVs, the figure scripts read them."""
    rows = [run("pretrain", "a", 0, 42, 500.0, 2.0, npre=100, target="")]
    rows[0]["npre"] = 100
    for seed, offset in ((1, 0.0), (2, 10.0), (3, 5.0)):
        for n, scale in ((10, 2.0), (30, 1.0)):
            rows.append(run("direct", "direct", n, seed, 100 * scale + offset, 1.0 * scale + offset / 100))
            rows.append(run("finetune", "a", n, seed, 50 * scale + offset, 0.5 * scale + offset / 100))
            rows.append(run("finetune", "b", n, seed, 70 * scale + offset, 0.7 * scale + offset / 100))
    runs = mark_diverged(pd.DataFrame(rows))
    runs.to_csv(tmp_path / "runs.csv", index=False)
    learning_curves(runs).to_csv(tmp_path / "curves.csv", index=False)
    return read_table(tmp_path / "runs.csv"), read_table(tmp_path / "curves.csv")


def test_read_back_tables_keep_the_pretrained_models_empty_target(tables):
    runs, curves = tables
    assert (runs.loc[runs["kind"] == "pretrain", "target"] == "").all()
    assert (curves.loc[curves["kind"] == "pretrain", "target"] == "").all()


def test_fig3_plots_the_best_of_seeds_of_the_table(tables, tmp_path):
    _, curves = tables
    displays = {"a": {"label": "A", "color": "#d62728"}, "b": {"label": "B", "color": "#6fa8dc", "family": "empirical"}}
    fig = fig3(curves, "t", 100, ["a", "b"], displays, str(tmp_path / "fig3.pdf"))
    try:
        energy_axis, force_axis = fig.axes[:2]
        plotted = {line.get_label(): line for line in energy_axis.lines if not line.get_label().startswith("_")}
        assert set(plotted) == {"Direct", "A", "B"}
        for label, kind, source in (("Direct", "direct", "direct"), ("A", "finetune", "a"), ("B", "finetune", "b")):
            rows = curves[(curves["kind"] == kind) & (curves["source"] == source)].sort_values("n")
            np.testing.assert_array_equal(plotted[label].get_xdata(), rows["n"])
            np.testing.assert_array_equal(plotted[label].get_ydata(), rows["energy_best"])
        # best of seeds = the minimum over the three seeds: direct n = 10 -> 200 + 0
        assert list(plotted["Direct"].get_ydata()) == [200.0, 100.0]
        forces = {line.get_label(): line for line in force_axis.lines if not line.get_label().startswith("_")}
        assert list(forces["A"].get_ydata()) == [1.0, 0.5]
    finally:
        plt.close(fig)
    assert (tmp_path / "fig3.pdf").read_bytes()[:5] == b"%PDF-"


def test_fig5_bars_are_the_mean_over_seeds_of_the_runs(tables, tmp_path):
    runs, curves = tables
    umap = pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0], "role": ["reference", "projected"], "set": ["c", "t"]})
    fig = fig5(curves, runs, "t", ["a", "b"], [100], {}, umap, {}, 30, str(tmp_path / "fig5.pdf"))
    try:
        bars = fig.axes[3].patches
        at_30 = runs[runs["n"] == 30]
        expected = [at_30.loc[at_30["source"] == s, FORCE].mean() for s in ("direct", "a", "b")]
        assert [bar.get_height() for bar in bars] == pytest.approx(expected)
    finally:
        plt.close(fig)


def test_fig6_draws_each_strategy_on_the_specialised_and_the_general_test_set(tmp_path):
    rows = []
    for testset, worse in (("t", 1.0), ("g", 3.0)):
        pretrained = run("pretrain", "a", 0, 42, 900.0 * worse, 2.0, target="", testset=testset)
        pretrained["npre"] = 100
        rows.append(pretrained)
        for seed in (1, 2):
            for n in (5, 15):
                rows.append(run("direct", "direct", n, seed, 300.0 * worse / n + seed, 1.0, testset=testset))
                for k, strategy in enumerate(("all", "freeze1", "replay")):
                    rows.append(run("finetune", "a", n, seed, (100.0 + 10 * k) * worse / n + seed, 0.5 + k / 10,
                                    testset=testset, strategy=strategy))
    curves = learning_curves(mark_diverged(pd.DataFrame(rows)))
    strategies = {"all": "all", "freeze1": "freeze", "replay": "replay"}
    fig = fig6(curves, "t", "g", "a", 100, strategies, {"label": "A", "color": "#d62728", "family": "ml"},
               str(tmp_path / "fig6.pdf"))
    try:
        assert len(fig.axes) == 4
        for col, testset in enumerate(("t", "g")):
            for row, short in enumerate(("energy", "force")):
                ax = fig.axes[2 * row + col]
                plotted = {line.get_label(): line for line in ax.lines if not line.get_label().startswith("_")}
                assert set(plotted) == {"Direct", "fine-tune all weights", "freeze1 (freeze)", "replay (replay)",
                                        "pre-trained on a only"}
                for label, strategy in (("fine-tune all weights", "all"), ("freeze1 (freeze)", "freeze1")):
                    expected = curves[(curves["kind"] == "finetune") & (curves["strategy"] == strategy)
                                      & (curves["testset"] == testset)].sort_values("n")[f"{short}_best"]
                    np.testing.assert_array_equal(plotted[label].get_ydata(), expected)
                pretrained = curves[(curves["kind"] == "pretrain") & (curves["testset"] == testset)][f"{short}_best"]
                assert plotted["pre-trained on a only"].get_ydata()[0] == pretrained.iloc[0]
    finally:
        plt.close(fig)


def daggers(ax) -> list[tuple[float, float]]:
    return [(x, y) for line in ax.lines if line.get_marker() == r"$\dagger$"
            for x, y in zip(line.get_xdata(), line.get_ydata())]


def test_points_worse_than_a_constant_predictor_carry_a_dagger(tmp_path):
    """Direct n = 10 is worse than the mean energy (410 and 420 > 300 meV/atom), fine-tuned n = 30
    seed 1 worse than zero force (3.0 > 2.0 eV/Å): a † at the point's best of seeds on that metric's
    axis only, and the title says what † means."""
    rows = []
    for seed in (1, 2):
        for n in (10, 30):
            rows.append(run("direct", "direct", n, seed, (400.0 if n == 10 else 100.0) + 10 * seed, 1.0))
            rows.append(run("finetune", "a", n, seed, 50.0, 3.0 if (n, seed) == (30, 1) else 0.5))
    for row in rows:
        row["energy_rmse_mean_predictor_mev_per_atom"], row["force_rmse_zero_predictor_ev_per_a"] = 300.0, 2.0
    runs = mark_diverged(pd.DataFrame(rows))
    runs.to_csv(tmp_path / "runs.csv", index=False)
    learning_curves(runs).to_csv(tmp_path / "curves.csv", index=False)
    curves = read_table(tmp_path / "curves.csv")
    fig = fig3(curves, "t", 100, ["a"], {"a": {"label": "A"}}, str(tmp_path / "fig3.pdf"))
    try:
        energy_axis, force_axis = fig.axes[:2]
        assert daggers(energy_axis) == [(10, 410.0)]                      # at the best of seeds
        assert daggers(force_axis) == [(30, 0.5)]                         # seed 1 (3.0) worse, best 0.5
        assert "† = a run worse than a constant predictor" in fig._suptitle.get_text()
    finally:
        plt.close(fig)


def test_no_dagger_without_the_constants(tables, tmp_path):
    _, curves = tables
    fig = fig3(curves, "t", 100, ["a", "b"], {}, str(tmp_path / "fig3.pdf"))
    try:
        assert daggers(fig.axes[0]) == [] and daggers(fig.axes[1]) == []
    finally:
        plt.close(fig)


def test_fig5_seed_points_and_fig6_pretrained_line_worse_than_constant_are_marked(tmp_path):
    rows = []
    for testset in ("t", "g"):
        pretrained = run("pretrain", "a", 0, 42, 900.0, 2.0, target="", testset=testset)
        pretrained["npre"] = 100
        rows.append(pretrained)
        for seed in (1, 2):
            for n in (5, 15):
                rows.append(run("direct", "direct", n, seed, 100.0, 1.0, testset=testset))
                for strategy in ("all", "freeze1"):
                    rows.append(run("finetune", "a", n, seed, 50.0, 2.5 if seed == 2 else 0.5, testset=testset,
                                    strategy=strategy))
    for row in rows:
        row["energy_rmse_mean_predictor_mev_per_atom"], row["force_rmse_zero_predictor_ev_per_a"] = 300.0, 2.0
    runs = mark_worse_than_constant(mark_diverged(pd.DataFrame(rows)))     # as load_evaluations marks them
    curves = learning_curves(runs)
    fig = fig6(curves, "t", "g", "a", 100, {"all": "all", "freeze1": "freeze"},
               {"label": "A", "color": "#d62728", "family": "ml"}, str(tmp_path / "fig6.pdf"))
    try:
        energy_labels = {line.get_label() for line in fig.axes[0].lines}
        force_labels = {line.get_label() for line in fig.axes[2].lines}
        assert "pre-trained on a only †" in energy_labels                # 900 > 300 meV/atom
        assert "pre-trained on a only" in force_labels                  # 2.0 is not worse than 2.0
    finally:
        plt.close(fig)
    umap = pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0], "role": ["reference", "projected"], "set": ["c", "t"]})
    strategy_all = runs[runs["strategy"] == "all"]
    fig = fig5(learning_curves(strategy_all), strategy_all, "t", ["a"], [100], {}, umap, {}, 15,
               str(tmp_path / "fig5.pdf"))
    try:
        assert daggers(fig.axes[3]) == [(1.0, 2.5)]                       # the fine-tuned seed 2 only
    finally:
        plt.close(fig)
