"""The paper's figures, drawn from the learning-curve table (and, for Figs 4-5, the analyses):
each is a pure function of its tables, and returns the matplotlib Figure it saved.

Every learning curve is the best of seeds (as the paper plots), with the range over seeds shaded,
diverged runs marked with a star (the paper's asterisks) and runs worse than a constant predictor
with a dagger (Table 1's †, `aggregate`), never hidden.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator, ScalarFormatter  # noqa: E402
from matplotlib.transforms import ScaledTranslation  # noqa: E402

DIRECT_STYLE = {"label": "Direct", "color": "black", "family": "direct"}
FALLBACK_COLORS = ["#d62728", "#ffa319", "#6fa8dc", "#77c9a8", "#9467bd", "#8c564b"]
METRICS = (("energy", "Energy RMSE (meV/atom)"), ("force", "Force RMSE (eV/Å)"))
SPREAD = ("best of seeds (line), range over seeds (band), ★ = a diverged run, "
          "† = a run worse than a constant predictor")


def source_style(name: str, display: dict | None, index: int) -> dict:
    display = display or {}
    return {"label": display.get("label", name), "family": display.get("family", "ml"),
            "color": display.get("color", FALLBACK_COLORS[index % len(FALLBACK_COLORS)])}


def _line_kwargs(style: dict) -> dict:
    empirical = style["family"] == "empirical"
    return {"color": style["color"], "label": style["label"], "linestyle": style.get("linestyle", "--" if empirical else "-"),
            "marker": "D" if empirical else "o", "markersize": 5, "linewidth": 1.6,
            "markeredgecolor": style.get("edge", style["color"])}


def select(table: pd.DataFrame, **where) -> pd.DataFrame:
    rows = table
    for key, value in where.items():
        rows = rows[rows[key] == value]
    return rows.sort_values("n")


def draw_curve(ax, rows: pd.DataFrame, short: str, style: dict) -> None:
    """Best of seeds as a line, the range over seeds as a band, diverged points starred, points with
    a run worse than a constant predictor daggered."""
    if rows.empty:
        return
    ax.plot(rows["n"], rows[f"{short}_best"], **_line_kwargs(style))
    if (rows["n_seeds"] > 1).any():
        ax.fill_between(rows["n"], rows[f"{short}_min"], rows[f"{short}_max"], color=style["color"],
                        alpha=0.15, linewidth=0)
    diverged = rows[rows["n_diverged"] > 0]
    if not diverged.empty:
        ax.plot(diverged["n"], diverged[f"{short}_best"], linestyle="none", marker="*", markersize=12,
                color=style["color"], markeredgecolor="black", zorder=5)
    worse = f"{short}_n_worse_than_constant"
    worse = rows[rows[worse] > 0] if worse in rows else rows[:0]   # curves tables written before the count: none
    if not worse.empty:
        dagger(ax, worse["n"], worse[f"{short}_best"])


def dagger(ax, x, y) -> None:
    """† at each (x, y), up and to the right like Table 1's mark (centred, a star would hide it)."""
    offset = ScaledTranslation(6 / 72, 6 / 72, ax.figure.dpi_scale_trans)
    ax.plot(x, y, linestyle="none", marker=r"$\dagger$", markersize=11, color="black", zorder=6,
            transform=ax.transData + offset)


def _pretrained_label(label: str, pretrained: pd.DataFrame, short: str) -> str:
    """A pre-trained model's line label, with † when it is worse than a constant predictor."""
    column = f"{short}_n_worse_than_constant"
    return f"{label} †" if column in pretrained and pretrained[column].iloc[0] > 0 else label


def learning_axes(ax, sizes, ylabel: str) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(FixedLocator(sizes))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([str(n) for n in sizes])
    plain = ScalarFormatter(useOffset=False)
    plain.set_scientific(False)
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda y, _: _minor_label(ax, y)))
    ax.tick_params(axis="y", which="minor", labelsize=7)
    ax.set_xlabel("Number of real training structures")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.25)


def _minor_label(ax, y: float) -> str:
    """Label every minor tick of a log axis spanning less than a decade, else only 2x and 5x."""
    low, high = ax.get_ylim()
    leading = round(y / 10 ** np.floor(np.log10(y)))
    if high / low < 10 or leading in (2, 5):
        return f"{y:g}"
    return ""


def _sizes(curves) -> list[int]:
    return sorted({int(n) for _, rows in curves for n in rows["n"]})


def learning_curve_panels(curves: list[tuple[dict, pd.DataFrame]], title: str, path: str,
                          legend_title: str = "Pre-training labels"):
    """Energy | force RMSE vs n (log-log) for each (style, rows) curve, in drawing order."""
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 4.0), constrained_layout=True)
    for ax, (short, unit) in zip(axes, METRICS):
        for style, rows in curves:
            draw_curve(ax, rows, short, style)
        learning_axes(ax, _sizes(curves), unit)
    handles, labels = axes[0].get_legend_handles_labels()
    axes[1].legend(handles, labels, title=legend_title, frameon=False, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.savefig(path)
    return fig


def shades(n: int, dark: str | None = None) -> list[str]:
    """n colours from light to dark (white -> red as in the paper's Fig 2, or white -> `dark`)."""
    cmap = (plt.get_cmap("Reds") if dark is None
            else matplotlib.colors.LinearSegmentedColormap.from_list("", ["white", dark]))
    return [matplotlib.colors.to_hex(c) for c in cmap(np.linspace(0.35, 1.0, n) if n > 1 else [1.0])]


def _title(lines: list[str], note: str) -> str:
    return "\n".join(lines + ([note] if note else []))


def _require(curves, what: str) -> None:
    missing = [style["label"] for style, rows in curves if rows.empty]
    if missing:
        raise ValueError(f"{what}: no learning-curve rows for {missing}")


def fig2(table: pd.DataFrame, target: str, source: str, pretrain_sizes: list[int], path: str,
         note: str = ""):
    """Fig 2: one curve per number of pre-training structures (white -> red), direct in black."""
    curves = [(DIRECT_STYLE, select(table, kind="direct", target=target, testset=target))]
    for npre, shade in zip(sorted(pretrain_sizes), shades(len(pretrain_sizes))):
        style = {"label": f"{npre:,}", "color": shade, "family": "ml", "edge": "0.3"}
        curves.append((style, select(table, kind="finetune", source=source, npre=npre, target=target, testset=target)))
    _require(curves, "fig2")
    return learning_curve_panels(curves, _title([f"Fine-tuned from {source} labels; test set: {target}", SPREAD], note),
                          path, legend_title="Pre-training structures")


def fig3(table: pd.DataFrame, target: str, npre: int, sources: list[str], displays: dict, path: str,
         note: str = ""):
    """Fig 3: one curve per label source (fine-tuned from npre pre-training structures) + direct."""
    curves = [(DIRECT_STYLE, select(table, kind="direct", target=target, testset=target))]
    for i, source in enumerate(sources):
        rows = select(table, kind="finetune", source=source, npre=npre, target=target, testset=target)
        curves.append((source_style(source, displays.get(source), i), rows))
    _require(curves, "fig3")
    return learning_curve_panels(curves, _title([f"Test set: {target}; pre-training on {npre} structures", SPREAD], note), path)


def _force_vs_n(ax, table, target: str, testset: str, source: str, npre: int, style: dict, title: str) -> None:
    curves = [(DIRECT_STYLE, select(table, kind="direct", target=target, testset=testset)),
              ({**style, "label": "Fine-tuned", "linestyle": "-"}, select(table, kind="finetune", source=source, npre=npre,
                                                          target=target, testset=testset))]
    _require(curves, title)
    for s, rows in curves:
        draw_curve(ax, rows, "force", s)
    pretrained = table[(table["kind"] == "pretrain") & (table["source"] == source) & (table["npre"] == npre)
                       & (table["testset"] == testset)]
    if not pretrained.empty:
        ax.axhline(float(pretrained["force_best"].iloc[0]), color=style["color"], linestyle="--", linewidth=1.2,
                   label=_pretrained_label("Pre-trained only", pretrained, "force"))
    learning_axes(ax, _sizes(curves), "Force RMSE (eV/Å)")
    ax.set_title(title, fontsize=10, loc="left")
    ax.legend(frameon=False, fontsize=8)


def _environment_map(ax, umap: pd.DataFrame, colors: dict, title: str) -> None:
    for name, rows in umap[umap["role"] == "reference"].groupby("set", sort=False):
        ax.scatter(rows["x"], rows["y"], s=4, alpha=0.35, color=colors.get(name, "0.7"), label=f"{name} (fitted)",
                   linewidths=0)
    for name, rows in umap[umap["role"] == "projected"].groupby("set", sort=False):
        ax.scatter(rows["x"], rows["y"], s=7, color=colors.get(name, "black"), label=f"{name} (projected)",
                   linewidths=0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("UMAP 1")
    ax.set_ylabel("UMAP 2")
    ax.set_title(title, fontsize=10, loc="left")
    ax.legend(frameon=False, fontsize=8, markerscale=2)


def fig4(table: pd.DataFrame, target: str, general: str, source: str, npre: int, style: dict,
         umap: pd.DataFrame, md: dict[str, tuple[pd.DataFrame, dict]], path: str, note: str = ""):
    """Fig 4: (a) target-test and (c) general-test force RMSE vs n; (b) environment map; (d) MD stability."""
    fig, axes = plt.subplots(2, 2, figsize=(10.5, 8.5), constrained_layout=True)
    _force_vs_n(axes[0, 0], table, target, target, source, npre, style, f"(a) test set: {target}")
    projected = sorted(set(umap.loc[umap["role"] == "projected", "set"]))
    _environment_map(axes[0, 1], umap, {p: style["color"] for p in projected}, "(b) environments (SOAP, UMAP)")
    _force_vs_n(axes[1, 0], table, target, general, source, npre, style, f"(c) test set: {general}")
    ax = axes[1, 1]
    colors = {"direct": "black", "finetune": style["color"]}
    for name, (frames, summary) in md.items():
        label = "Direct" if name == "direct" else "Fine-tuned"
        color = colors[name]
        ax.plot(frames["time_ps"], frames["cn3"], color=color, linestyle="-", label=f"{label}: 3-fold")
        ax.plot(frames["time_ps"], frames["cn4"], color=color, linestyle="--", label=f"{label}: 4-fold")
        odd = frames["cn0"] + frames[[c for c in frames.columns if c.startswith("cn") and c[2:].rstrip("+").isdigit()
                                      and int(c[2:].rstrip("+")) >= 5]].sum(axis=1)
        ax.plot(frames["time_ps"], odd, color=color, linestyle=":", linewidth=2, label=f"{label}: 0- or ≥5-fold")
        if summary.get("first_unphysical_ps") is not None:
            ax.axvline(summary["first_unphysical_ps"], color=color, alpha=0.4, linewidth=1)
        if not summary.get("completed", True):
            ax.plot(frames["time_ps"].iloc[-1], odd.iloc[-1], marker="X", color=color, markersize=10)
    ax.set_xlabel("Time (ps)")
    ax.set_ylabel("Fraction of atoms")
    ax.set_ylim(0, 1)
    ax.set_title("(d) MD stability (| = first 0- or ≥5-fold atom)", fontsize=10, loc="left")
    ax.legend(frameon=False, fontsize=7, ncol=2)
    ax.grid(True, alpha=0.25)
    fig.suptitle(_title([f"Specialised data ({target}): direct vs fine-tuned from {source} ({npre} structures); {SPREAD}"],
                        note), fontsize=10)
    fig.savefig(path)
    return fig


def fig5(table: pd.DataFrame, runs: pd.DataFrame, target: str, sources: list[str], pretrain_sizes: list[int],
         displays: dict, umap: pd.DataFrame, umap_colors: dict, bars_n: int, path: str, note: str = ""):
    """Fig 5: (a, b) force RMSE vs n per pre-training size for two alchemical sources; (c) environment
    map; (d) force RMSE at n = bars_n, mean ± std over seeds with the seeds as points."""
    fig, axes = plt.subplots(2, 2, figsize=(10.5, 8.5), constrained_layout=True)
    direct = select(table, kind="direct", target=target, testset=target)
    for ax, letter, (i, source) in zip(axes[0], "ab", enumerate(sources[:2])):
        style = source_style(source, displays.get(source), i)
        curves = [(DIRECT_STYLE, direct)] + [
            ({"label": f"{npre:,}", "color": shade, "family": "ml", "edge": "0.3"},
             select(table, kind="finetune", source=source, npre=npre, target=target, testset=target))
            for npre, shade in zip(sorted(pretrain_sizes), shades(len(pretrain_sizes), style["color"]))]
        _require(curves, f"fig5 ({source})")
        for s, rows in curves:
            draw_curve(ax, rows, "force", s)
        learning_axes(ax, _sizes(curves), "Force RMSE (eV/Å)")
        ax.set_title(f"({letter}) pre-trained on {style['label']}", fontsize=10, loc="left")
        ax.legend(frameon=False, fontsize=8, title="Pre-training structures", title_fontsize=8)
    _environment_map(axes[1, 0], umap, umap_colors, "(c) environments (SOAP, UMAP)")
    _seed_bars(axes[1, 1], runs, target, sources, sorted(pretrain_sizes), displays, bars_n)
    fig.suptitle(_title([f"Alchemical pre-training, test set: {target}; {SPREAD}"], note), fontsize=10)
    fig.savefig(path)
    return fig


def _seed_bars(ax, runs: pd.DataFrame, target: str, sources: list[str], pretrain_sizes: list[int], displays: dict,
               n: int) -> None:
    """Force RMSE at one n: direct, then each pre-training size with one bar per source."""
    at_n = runs[(runs["n"] == n) & (runs["testset"] == target) & (runs["target"] == target)]
    groups = [("Direct", [(DIRECT_STYLE, at_n[at_n["kind"] == "direct"])])]
    for npre in pretrain_sizes:
        groups.append((f"{npre:,}", [(source_style(s, displays.get(s), i),
                                      at_n[(at_n["kind"] == "finetune") & (at_n["source"] == s) & (at_n["npre"] == npre)])
                                     for i, s in enumerate(sources)]))
    width = 0.8 / len(sources)
    labelled = set()
    for g, (_, bars) in enumerate(groups):
        for b, (style, rows) in enumerate(bars):
            values = rows["force_rmse_ev_per_a"].to_numpy(dtype=float)
            if values.size == 0:
                continue
            x = g + (b - (len(bars) - 1) / 2) * width
            ax.bar(x, values.mean(), width * 0.9, yerr=values.std(ddof=1) if values.size > 1 else 0,
                   color=style["color"], alpha=0.85, capsize=3, edgecolor="black", linewidth=0.5,
                   label=None if style["label"] in labelled else style["label"])
            labelled.add(style["label"])
            ax.plot(np.full(values.size, x), values, "o", color="white", markeredgecolor="black", markersize=3)
            worse = values[rows["force_worse_than_constant"].astype(bool).to_numpy()] \
                if "force_worse_than_constant" in rows else values[:0]
            if worse.size:
                dagger(ax, np.full(worse.size, x), worse)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([name for name, _ in groups])
    ax.set_xlabel("Number of pre-training structures")
    ax.set_ylabel(f"Force RMSE at n = {n} (eV/Å)")
    ax.set_title("(d) mean ± std over seeds, seeds as points", fontsize=10, loc="left")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # head room for the legend above the bars
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    ax.grid(True, axis="y", alpha=0.25)


STRATEGY_COLORS = {"freeze": "#6fa8dc", "replay": "#77c9a8"}  # `all` is drawn in the source's colour


def fig6(table: pd.DataFrame, target: str, general: str, source: str, npre: int, strategies: dict[str, str],
         style: dict, path: str, note: str = ""):
    """Fig 6: the accuracy-forgetting trade-off of fine-tuning strategies.  Columns: the specialised
    test set (`target`) and the general one; rows: energy and force RMSE vs n.  One curve per
    strategy (`strategies`: name -> type), direct training, and the pre-trained model alone."""
    fig, axes = plt.subplots(2, 2, figsize=(10.5, 8.0), constrained_layout=True, sharex=True)
    dashes = ["-", (0, (5, 2)), (0, (1, 1.5)), (0, (3, 1, 1, 1))]
    for col, testset in enumerate((target, general)):
        curves = [(DIRECT_STYLE, select(table, kind="direct", target=target, testset=testset))]
        for i, (name, kind) in enumerate(strategies.items()):
            color = style["color"] if kind == "all" else STRATEGY_COLORS.get(kind) or FALLBACK_COLORS[i]
            label = "fine-tune all weights" if name == "all" else f"{name} ({kind})"
            curves.append(({**style, "color": color, "label": label, "linestyle": dashes[i % len(dashes)]},
                           select(table, kind="finetune", source=source, npre=npre, target=target, testset=testset,
                                  strategy=name)))
        _require(curves, f"Fig 6, test set {testset}")
        pretrained = table[(table["kind"] == "pretrain") & (table["source"] == source) & (table["npre"] == npre)
                           & (table["testset"] == testset)]
        for row, (short, unit) in enumerate(METRICS):
            ax = axes[row, col]
            for s, rows in curves:
                draw_curve(ax, rows, short, s)
            if not pretrained.empty:
                ax.axhline(float(pretrained[f"{short}_best"].iloc[0]), color="0.45", linestyle="--", linewidth=1.2,
                           label=_pretrained_label(f"pre-trained on {source} only", pretrained, short))
            learning_axes(ax, _sizes(curves), unit)
            if row == 0:
                kind = "specialised" if testset == target else "general"
                ax.set_title(f"({'ab'[col]}) {kind} test set: {testset}", fontsize=10, loc="left")
                ax.set_xlabel("")
    handles, labels = axes[0, 1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), frameon=False, fontsize=8)
    fig.suptitle(_title([f"Fine-tuning strategies on {target} from {source} ({npre} structures): accuracy on the "
                         "specialised data vs what is kept of the general", SPREAD], note), fontsize=10)
    fig.savefig(path)
    return fig
