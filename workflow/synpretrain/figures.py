"""The paper's figures, drawn from the learning-curve table."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FixedLocator, NullLocator  # noqa: E402

DIRECT_STYLE = {"label": "Direct", "color": "black", "family": "direct"}
FALLBACK_COLORS = ["#d62728", "#ffa319", "#6fa8dc", "#77c9a8", "#9467bd", "#8c564b"]


def source_style(name: str, display: dict | None, index: int) -> dict:
    display = display or {}
    return {"label": display.get("label", name), "family": display.get("family", "ml"),
            "color": display.get("color", FALLBACK_COLORS[index % len(FALLBACK_COLORS)])}


def _line_kwargs(style: dict) -> dict:
    empirical = style["family"] == "empirical"
    return {"color": style["color"], "label": style["label"], "linestyle": "--" if empirical else "-",
            "marker": "D" if empirical else "o", "markersize": 5 if empirical else 5, "linewidth": 1.6}


def learning_curve_panels(curves: list[tuple[dict, pd.DataFrame]], title: str, path: str) -> None:
    """Energy | force RMSE vs n (log-log); best of seeds as lines, the seeds' range shaded.

    `curves`: (style, rows of the learning-curve table for that curve) in drawing order."""
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 4.0), constrained_layout=True)
    sizes = sorted({int(n) for _, rows in curves for n in rows["n"]})
    for ax, short, unit in ((axes[0], "energy", "Energy RMSE (meV/atom)"),
                            (axes[1], "force", "Force RMSE (eV/Å)")):
        for style, rows in curves:
            rows = rows.sort_values("n")
            kwargs = _line_kwargs(style)
            ax.plot(rows["n"], rows[f"{short}_best"], **kwargs)
            if (rows["n_seeds"] > 1).any():
                ax.fill_between(rows["n"], rows[f"{short}_min"], rows[f"{short}_max"],
                                color=style["color"], alpha=0.12, linewidth=0)
            diverged = rows[rows["n_diverged"] > 0]
            if not diverged.empty:
                ax.plot(diverged["n"], diverged[f"{short}_best"], linestyle="none", marker="*",
                        markersize=11, color=style["color"], markeredgecolor="black")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(FixedLocator(sizes))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([str(n) for n in sizes])
        ax.set_xlabel("Number of real training structures")
        ax.set_ylabel(unit)
        ax.grid(True, which="both", alpha=0.25)
    handles, labels = axes[0].get_legend_handles_labels()
    axes[1].legend(handles, labels, title="Pre-training labels", frameon=False, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.savefig(path)
    plt.close(fig)


def fig3(table: pd.DataFrame, target: str, npre: int, sources: list[str], displays: dict, path: str,
         note: str = "") -> None:
    """Fig 3: one curve per label source (fine-tuned from npre pre-training structures) + direct."""
    on_target = table[(table["testset"] == target) & (table["target"] == target)]
    curves = [(DIRECT_STYLE, on_target[on_target["kind"] == "direct"])]
    for i, source in enumerate(sources):
        rows = on_target[(on_target["kind"] == "finetune") & (on_target["source"] == source)
                         & (on_target["npre"] == npre)]
        curves.append((source_style(source, displays.get(source), i), rows))
    missing = [style["label"] for style, rows in curves if rows.empty]
    if missing:
        raise ValueError(f"fig3: no learning-curve rows for {missing} on target {target!r}")
    title = (f"Test set: {target}; best of seeds (line), range over seeds (band), "
             f"* = a diverged run; pre-training on {npre} structures" + (f"\n{note}" if note else ""))
    learning_curve_panels(curves, title, path)
