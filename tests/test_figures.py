"""A figure is a pure function of its experiment's tables: what it plots is what the table says."""
from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from synpretrain.aggregate import learning_curves, mark_diverged, mark_worse_than_constant, read_table
from synpretrain.figures import STYLE, fig2, fig3, fig4, fig5, fig6, fit_log_range, strategy_label

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
    strategies = {"all": {"type": "all"}, "freeze1": {"type": "freeze", "frozen_layers": 1},
                  "replay": {"type": "replay", "fraction": 0.1}}
    fig = fig6(curves, "t", "g", "a", 100, strategies, {"label": "A", "color": "#d62728", "family": "ml"},
               str(tmp_path / "fig6.pdf"), names={"t": "Tubes", "g": "General"})
    try:
        assert len(fig.axes) == 4
        for col, testset in enumerate(("t", "g")):
            for row, short in enumerate(("energy", "force")):
                ax = fig.axes[2 * row + col]
                plotted = {line.get_label(): line for line in ax.lines if not line.get_label().startswith("_")}
                assert set(plotted) == {"Direct", "fine-tune every weight", "freeze embedding + block 1",
                                        "replay 10% of pre-training data", "pre-trained on A only"}
                for label, strategy in (("fine-tune every weight", "all"), ("freeze embedding + block 1", "freeze1")):
                    expected = curves[(curves["kind"] == "finetune") & (curves["strategy"] == strategy)
                                      & (curves["testset"] == testset)].sort_values("n")[f"{short}_best"]
                    np.testing.assert_array_equal(plotted[label].get_ydata(), expected)
                pretrained = curves[(curves["kind"] == "pretrain") & (curves["testset"] == testset)][f"{short}_best"]
                assert plotted["pre-trained on A only"].get_ydata()[0] == pretrained.iloc[0]
        assert fig.axes[0].get_title(loc="left") == "(a) specialised test set: Tubes"
        assert fig.axes[1].get_title(loc="left") == "(b) general test set: General"
    finally:
        plt.close(fig)


def test_strategies_are_named_from_their_type_and_parameter():
    assert strategy_label("all", {"type": "all"}) == "fine-tune every weight"
    assert strategy_label("freeze1", {"type": "freeze", "frozen_layers": 1}) == "freeze embedding + block 1"
    assert strategy_label("freeze2", {"type": "freeze", "frozen_layers": 2}) == "freeze embedding + blocks 1-2"
    assert strategy_label("f0", {"type": "freeze", "frozen_layers": 0}) == "freeze embedding"
    assert strategy_label("replay", {"type": "replay", "fraction": 0.01}) == "replay 1% of pre-training data"
    assert strategy_label("mine", {"type": "freeze", "frozen_layers": 1, "display": "Mine"}) == "Mine"
    assert strategy_label("freeze1", "freeze") == "freeze (freeze1)"        # the type alone: name kept


def test_a_reference_line_far_off_the_curves_is_marked_at_the_edge_not_drawn_into_the_range(tmp_path):
    """The pre-trained model's energy (2,700 meV/atom on the general set, curves below 75) does not
    stretch the axis: the axis spans the curves, and a note at its top edge gives the line's value."""
    rows = []
    for testset, pretrained_energy in (("t", 60.0), ("g", 2700.0)):
        pretrained = run("pretrain", "a", 0, 42, pretrained_energy, 0.9, target="", testset=testset)
        pretrained["npre"] = 100
        rows.append(pretrained)
        for seed in (1, 2):
            for n in (5, 15):
                rows.append(run("direct", "direct", n, seed, 70.0 / n * 5 + seed, 1.0, testset=testset))
                rows.append(run("finetune", "a", n, seed, 40.0 / n * 5 + seed, 0.5, testset=testset))
    curves = learning_curves(mark_diverged(pd.DataFrame(rows)))
    fig = fig6(curves, "t", "g", "a", 100, {"all": {"type": "all"}}, {"label": "A", "color": "#d62728", "family": "ml"},
               str(tmp_path / "fig6.pdf"))
    try:
        specialised, general = fig.axes[0], fig.axes[1]
        low, high = general.get_ylim()
        assert high < 2700.0 and high < 5 * 72.0                          # spans the curves (14-72)
        notes = [t.get_text() for t in general.texts]
        assert any("2,700 meV/atom" in t and "↑" in t for t in notes)
        low, high = specialised.get_ylim()                                 # 60 lies among the curves: drawn
        assert low < 60.0 < high and not specialised.texts
    finally:
        plt.close(fig)
    ax = plt.figure().subplots()
    try:
        assert fit_log_range(ax, [0.5, 1.0], [1.4, 0.2, 10.0]) == [0.2, 10.0]   # within a factor 1.5: kept
        assert ax.get_ylim()[0] < 0.5 and 1.4 < ax.get_ylim()[1] < 2.5
        assert fit_log_range(ax, [50.0, 700.0], [3200.0]) == [3200.0]     # the demo's general-set energies
        assert ax.get_ylim()[1] < 3200.0 / 2
    finally:
        plt.close(ax.figure)


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
        assert "pre-trained on A only †" in energy_labels                # 900 > 300 meV/atom
        assert "pre-trained on A only" in force_labels                  # 2.0 is not worse than 2.0
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


def test_fig2_names_the_source_by_its_display_label_not_its_key(tables, tmp_path):
    _, curves = tables
    fig = fig2(curves, "t", "a", [100], str(tmp_path / "fig2.pdf"), display={"label": "CHGNet"},
               names={"t": "C-GAP-17"})
    try:
        title = fig._suptitle.get_text()
        assert "CHGNet labels" in title and "test set: C-GAP-17" in title and " a labels" not in title
    finally:
        plt.close(fig)


def test_fig5_panels_a_and_b_share_one_y_range_and_ticks_are_readable_on_a_page(tables, tmp_path):
    runs, curves = tables
    umap = pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0], "role": ["reference", "projected"], "set": ["c", "t"]})
    fig = fig5(curves, runs, "t", ["a", "b"], [100], {}, umap, {}, 30, str(tmp_path / "fig5.pdf"))
    try:
        a, b = fig.axes[:2]
        assert a.get_ylim() == b.get_ylim()
        low, high = a.get_ylim()                     # spans both panels' curves (0.5 .. 2.1 eV/Å)
        assert low < 0.5 and high > 2.1
        assert fig.get_figwidth() <= 8.0                # at a 6.5-inch text width, 9 pt ticks stay above 7 pt
        for ax in fig.axes:
            for tick in ax.get_yticklabels(which="both") + ax.get_xticklabels():
                if tick.get_text():
                    assert tick.get_fontsize() >= STYLE["ytick.labelsize"]
    finally:
        plt.close(fig)


def test_fig4_md_panel_explains_every_mark_and_states_what_the_runs_did(tables, tmp_path):
    """Fig 4d: the vertical line (first unphysical atom) and the cross (a run that broke down) are in
    the legend, and each model's entry gives its times, computed from its summary."""
    _, curves = tables
    frames = pd.DataFrame({"time_ps": [0.0, 0.5, 1.0], "cn0": [0.0, 0.0, 0.1], "cn1": 0.0, "cn2": 0.1,
                           "cn3": [0.6, 0.5, 0.4], "cn4": [0.3, 0.4, 0.3], "cn5": [0.0, 0.0, 0.1], "cn6+": 0.0})
    md = {"direct": (frames, {"completed": False, "simulated_ps": 1.0, "first_unphysical_ps": 0.5}),
          "finetune": (frames, {"completed": True, "simulated_ps": 1.0, "first_unphysical_ps": None})}
    umap = pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0], "role": ["reference", "projected"], "set": ["c", "t"]})
    pretrained = curves[curves["kind"] == "pretrain"].assign(testset="g")
    table = pd.concat([curves, curves[curves["kind"] != "pretrain"].assign(testset="g"), pretrained])
    fig = fig4(table, "t", "g", "a", 100, {"label": "A", "color": "#d62728", "family": "ml"}, umap, md,
               str(tmp_path / "fig4.pdf"))
    try:
        ax = fig.axes[3]
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "Direct: first 0-/≥5-fold atom at 0.50 ps, broke down at 1.00 ps" in legend
        assert "Fine-tuned: no 0-/≥5-fold atom, ran 1.00 ps" in legend
        assert "first 0- or ≥5-fold atom (vertical)" in legend and "run stopped: the model broke down" in legend
        crosses = [line for line in ax.lines if line.get_marker() == "X"]
        assert len(crosses) == 1 and crosses[0].get_markersize() >= 10
        assert all(line.get_linewidth() >= 2 for line in ax.lines if list(line.get_xdata()) == [0.5, 0.5])
        ac = [t.get_text() for t in fig.axes[2].get_legend().get_texts()]    # one legend for (a) and (c)
        assert ac == ["Direct", "Fine-tuned", "Pre-trained on A only"]
    finally:
        plt.close(fig)


REPORT = Path(__file__).resolve().parents[1] / "workflow" / "report"
# sentences about results, hand-written into a caption, that went stale when the numbers changed
# (issue 29: "grows with n", "the best general forces at n = 5"): a caption states the set-up only
RESULT_CLAIMS = re.compile(r"what the demo shows|grows with n|falls with n|gives the best|is best on|"
                           r"forgets the most|keeps the general accuracy best|a demo run:|break down within",
                           re.IGNORECASE)


@pytest.mark.parametrize("name", ["fig2", "fig3", "fig4", "fig5", "fig6"])
def test_figure_captions_are_valid_rst_and_state_no_hand_written_result(name):
    from docutils.core import publish_parts
    from jinja2 import Environment

    text = (REPORT / f"{name}.rst").read_text()
    assert not RESULT_CLAIMS.search(text), RESULT_CLAIMS.search(text)
    # as Snakemake's report renders a caption: Jinja first, then reStructuredText (warnings fail here)
    rendered = Environment(trim_blocks=True, lstrip_blocks=True).from_string(text).render(snakemake=None)
    publish_parts(rendered, writer="html", settings_overrides={"halt_level": 2, "report_level": 5})
