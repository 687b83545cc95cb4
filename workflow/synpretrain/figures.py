"""The paper's figures, drawn from the learning-curve table (and, for Figs 4-5, the analyses):
each is a pure function of its tables, and returns the matplotlib Figure it saved.

Every learning curve is the best of seeds (as the paper plots), with the range over seeds shaded,
diverged runs marked with a star (the paper's asterisks) and runs worse than a constant predictor
with a dagger (Table 1's †, `aggregate`), never hidden.

Figures are drawn for a page: 8 inches wide at most, so that at a text width of 6-7 inches no text is
smaller than about 7 pt; every label is a display name (`labellers.<x>.display.label`, a target's
`display`, a strategy's type and parameter), never a config key where a name exists; every
marker is explained in the figure itself.  An axis spans the curves it compares, not a reference
line far off them: such a line is marked at the axis edge with its value (`reference_line`).
"""
from __future__ import annotations

import functools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator  # noqa: E402
from matplotlib.transforms import ScaledTranslation  # noqa: E402

DIRECT_STYLE = {"label": "Direct", "color": "black", "family": "direct"}
FALLBACK_COLORS = ["#d62728", "#ffa319", "#6fa8dc", "#77c9a8", "#9467bd", "#8c564b"]
METRICS = (("energy", "Energy RMSE (meV/atom)"), ("force", "Force RMSE (eV/Å)"))
SPREAD = ("best of seeds (line), range over seeds (band), ★ = a diverged run, "
          "† = a run worse than a constant predictor")
STYLE = {"font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10, "xtick.labelsize": 9,
         "ytick.labelsize": 9, "legend.fontsize": 8.5, "legend.title_fontsize": 8.5, "figure.titlesize": 10,
         "lines.markersize": 5}
WIDE, GRID = (8.0, 3.7), (8.0, 7.4)     # inches: one row of two panels, two rows of two


def styled(draw):
    """Draw a figure with the page-size fonts of `STYLE` (ticks 9 pt)."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with plt.rc_context(STYLE):
            return draw(*args, **kwargs)
    return wrapper


def name_of(names: dict | None, key: str) -> str:
    """A display name (a target's `display`, ...) for a config key, else the key."""
    return (names or {}).get(key) or key


def strategy_label(name: str, spec: dict | str | None = None) -> str:
    """A fine-tuning strategy as a person names it, from its type and parameter (config `strategies`):
    `all` -> "fine-tune every weight", {type: freeze, frozen_layers: 1} -> "freeze embedding + block 1",
    {type: replay, fraction: 0.1} -> "replay 10% of pre-training data"; a spec's own `display` first."""
    spec = {"type": spec} if isinstance(spec, str) else dict(spec or {})
    kind = spec.get("type", name)
    if spec.get("display"):
        return str(spec["display"])
    if kind == "all":
        return "fine-tune every weight"
    if kind == "freeze" and "frozen_layers" in spec:
        k = int(spec["frozen_layers"])
        blocks = "" if k == 0 else " + block 1" if k == 1 else f" + blocks 1-{k}"
        return f"freeze embedding{blocks}"
    if kind == "replay" and "fraction" in spec:
        return f"replay {100 * float(spec['fraction']):.3g}% of pre-training data"
    return kind if kind == name else f"{kind} ({name})"


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
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))   # 1 and 0.9, not 1.00 and 0.9
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda y, _: _minor_label(ax, y)))
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


def curve_values(curves, short: str) -> np.ndarray:
    """Every value the curves draw on a metric's axis: best of seeds and the band's ends."""
    columns = [f"{short}_best", f"{short}_min", f"{short}_max"]
    parts = [rows[c].to_numpy(dtype=float) for _, rows in curves for c in columns if c in rows]
    return np.concatenate(parts) if parts else np.array([])


def fit_log_range(axes, values, references=()) -> list[float]:
    """Set the log y range of `axes` (one axis or several that share it) to span `values` (the curves)
    and the `references` (horizontal lines) near them; return the references left off the axis.

    A reference counts as near when it widens the curves' span (in decades) by at most a quarter, or
    lies within a factor of 1.5 of them: a pre-trained model eV/atom away from the curves is marked
    at the axis edge (`reference_line`) instead of squeezing them into a corner."""
    axes = list(np.atleast_1d(axes))
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    references = [float(r) for r in references if np.isfinite(r) and r > 0]
    if not values.size:
        return []
    lo, hi = float(values.min()), float(values.max())
    allow = max((hi / lo) ** 0.25, 1.5)
    near = [r for r in references if lo / allow <= r <= hi * allow]
    off = [r for r in references if not lo / allow <= r <= hi * allow]
    lo, hi = min([lo, *near]), max([hi, *near])
    pad = max((hi / lo) ** 0.06, 1.06)
    room = max((hi / lo) ** 0.18, 1.25)      # for the mark of a line off the axis
    top = hi * pad * (room if any(r > hi for r in off) else 1)
    bottom = lo / pad / (room if any(r < lo for r in off) else 1)
    for ax in axes:
        ax.set_ylim(bottom, top)
    return off


def _value_text(short: str, value: float) -> str:
    return f"{value:,.0f} meV/atom" if short == "energy" else f"{value:.3g} eV/Å"


def reference_line(ax, value: float, label: str, color, short: str, off_axis: bool,
                   what: str = "pre-trained model") -> None:
    """A dashed horizontal line (a model that does not depend on n); when it is off the axis
    (`fit_log_range`), an arrow at the axis edge with `what` and its value instead."""
    ax.axhline(value, color=color, linestyle="--", linewidth=1.4, label=label)
    if not off_axis:
        return
    above = value > ax.get_ylim()[1]
    ax.annotate(f"{'↑' if above else '↓'} {what}: {_value_text(short, value)} (off scale)",
                xy=(0.985, 1.0 if above else 0.0), xycoords="axes fraction",
                xytext=(0, -3 if above else 3), textcoords="offset points", ha="right",
                va="top" if above else "bottom", fontsize=8, color=color,
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": color, "linewidth": 0.8})


def learning_curve_panels(curves: list[tuple[dict, pd.DataFrame]], title: str, path: str,
                          legend_title: str = "Pre-training labels"):
    """Energy | force RMSE vs n (log-log) for each (style, rows) curve, in drawing order."""
    fig, axes = plt.subplots(1, 2, figsize=WIDE, constrained_layout=True)
    for ax, (short, unit) in zip(axes, METRICS):
        for style, rows in curves:
            draw_curve(ax, rows, short, style)
        learning_axes(ax, _sizes(curves), unit)
    handles, labels = axes[0].get_legend_handles_labels()
    axes[1].legend(handles, labels, title=legend_title, frameon=False)
    fig.suptitle(title)
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


@styled
def fig2(table: pd.DataFrame, target: str, source: str, pretrain_sizes: list[int], path: str,
         note: str = "", display: dict | None = None, names: dict | None = None):
    """Fig 2: one curve per number of pre-training structures (white -> red), direct in black
    (`display`: the source's, for its name; `names`: test sets' display names)."""
    curves = [(DIRECT_STYLE, select(table, kind="direct", target=target, testset=target))]
    for npre, shade in zip(sorted(pretrain_sizes), shades(len(pretrain_sizes))):
        style = {"label": f"{npre:,}", "color": shade, "family": "ml", "edge": "0.3"}
        curves.append((style, select(table, kind="finetune", source=source, npre=npre, target=target, testset=target)))
    _require(curves, "fig2")
    label = source_style(source, display, 0)["label"]
    return learning_curve_panels(
        curves, _title([f"Fine-tuned after pre-training on {label} labels; test set: {name_of(names, target)}",
                        SPREAD], note), path, legend_title="Pre-training structures")


@styled
def fig3(table: pd.DataFrame, target: str, npre: int, sources: list[str], displays: dict, path: str,
         note: str = "", names: dict | None = None):
    """Fig 3: one curve per label source (fine-tuned from npre pre-training structures) + direct."""
    curves = [(DIRECT_STYLE, select(table, kind="direct", target=target, testset=target))]
    for i, source in enumerate(sources):
        rows = select(table, kind="finetune", source=source, npre=npre, target=target, testset=target)
        curves.append((source_style(source, displays.get(source), i), rows))
    _require(curves, "fig3")
    return learning_curve_panels(
        curves, _title([f"Test set: {name_of(names, target)}; fine-tuned after pre-training on {npre:,} structures",
                        SPREAD], note), path)


def _pretrained(table: pd.DataFrame, source: str, npre: int, testset: str) -> pd.DataFrame:
    return table[(table["kind"] == "pretrain") & (table["source"] == source) & (table["npre"] == npre)
                 & (table["testset"] == testset)]


def _force_vs_n(ax, table, target: str, testset: str, source: str, npre: int, style: dict, title: str) -> None:
    curves = [(DIRECT_STYLE, select(table, kind="direct", target=target, testset=testset)),
              ({**style, "label": "Fine-tuned", "linestyle": "-"}, select(table, kind="finetune", source=source, npre=npre,
                                                          target=target, testset=testset))]
    _require(curves, title)
    for s, rows in curves:
        draw_curve(ax, rows, "force", s)
    learning_axes(ax, _sizes(curves), "Force RMSE (eV/Å)")
    pretrained = _pretrained(table, source, npre, testset)
    line = [float(pretrained["force_best"].iloc[0])] if not pretrained.empty else []
    off = fit_log_range(ax, curve_values(curves, "force"), line)
    if line:
        reference_line(ax, line[0], _pretrained_label(f"Pre-trained on {style['label']} only", pretrained, "force"),
                       style["color"], "force", bool(off))
    ax.set_title(title, loc="left")


def _environment_map(ax, umap: pd.DataFrame, colors: dict, title: str, names: dict | None = None) -> None:
    for name, rows in umap[umap["role"] == "reference"].groupby("set", sort=False):
        ax.scatter(rows["x"], rows["y"], s=4, alpha=0.35, color=colors.get(name, "0.7"),
                   label=f"{name_of(names, name)} (fitted)", linewidths=0)
    for name, rows in umap[umap["role"] == "projected"].groupby("set", sort=False):
        ax.scatter(rows["x"], rows["y"], s=7, color=colors.get(name, "black"),
                   label=f"{name_of(names, name)} (projected)", linewidths=0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("UMAP 1")
    ax.set_ylabel("UMAP 2")
    ax.set_title(title, loc="left")
    ax.legend(frameon=False, fontsize=8, markerscale=2.5)


def _md_text(summary: dict) -> str:
    """What a run's summary says, for its legend entry: first unphysical atom, breakdown or length."""
    first = summary.get("first_unphysical_ps")
    ran = summary.get("simulated_ps")
    parts = [f"first 0-/≥5-fold atom at {first:.2f} ps" if first is not None else "no 0-/≥5-fold atom"]
    if ran is not None:
        parts.append(f"broke down at {ran:.2f} ps" if not summary.get("completed", True) else f"ran {ran:.2f} ps")
    return ", ".join(parts)


def _md_panel(ax, md: dict[str, tuple[pd.DataFrame, dict]], style: dict) -> None:
    """Fig 4d: coordination fractions over the MD run of each model, every mark in the legend."""
    colors = {"direct": "black", "finetune": style["color"]}
    models, ends = [], False
    for name, (frames, summary) in md.items():
        label = "Direct" if name == "direct" else "Fine-tuned"
        color = colors[name]
        ax.plot(frames["time_ps"], frames["cn3"], color=color, linestyle="-", linewidth=1.6)
        ax.plot(frames["time_ps"], frames["cn4"], color=color, linestyle="--", linewidth=1.6)
        odd = frames["cn0"] + frames[[c for c in frames.columns if c.startswith("cn") and c[2:].rstrip("+").isdigit()
                                      and int(c[2:].rstrip("+")) >= 5]].sum(axis=1)
        ax.plot(frames["time_ps"], odd, color=color, linestyle=":", linewidth=2.2)
        if summary.get("first_unphysical_ps") is not None:
            ax.axvline(summary["first_unphysical_ps"], color=color, alpha=0.8, linewidth=2.2, linestyle="-.")
        if not summary.get("completed", True):
            ax.plot(frames["time_ps"].iloc[-1], odd.iloc[-1], marker="X", color=color, markersize=13,
                    markeredgecolor="white", markeredgewidth=1.2, linestyle="none", zorder=6)
            ends = True
        models.append(Line2D([], [], color=color, linewidth=2.5, label=f"{label}: {_md_text(summary)}"))
    grey = "0.35"
    marks = [Line2D([], [], color=grey, linestyle="-", label="3-fold atoms"),
             Line2D([], [], color=grey, linestyle="--", label="4-fold atoms"),
             Line2D([], [], color=grey, linestyle=":", linewidth=2.2, label="0- or ≥5-fold atoms"),
             Line2D([], [], color=grey, linestyle="-.", linewidth=2.2, label="first 0- or ≥5-fold atom (vertical)")]
    if ends:
        marks.append(Line2D([], [], color=grey, marker="X", markersize=11, markeredgecolor="white", linestyle="none",
                            label="run stopped: the model broke down"))
    ax.set_xlabel("Time (ps)")
    ax.set_ylabel("Fraction of atoms")
    ax.set_ylim(0, 1)
    ax.set_title("(d) MD stability: heating, then holding", loc="left")
    ax.grid(True, alpha=0.25)
    ax.legend(handles=models + marks, frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.16),
              ncol=1, borderaxespad=0, handlelength=3.5)     # long enough to tell dash-dot from solid


@styled
def fig4(table: pd.DataFrame, target: str, general: str, source: str, npre: int, style: dict,
         umap: pd.DataFrame, md: dict[str, tuple[pd.DataFrame, dict]], path: str, note: str = "",
         names: dict | None = None):
    """Fig 4: (a) target-test and (c) general-test force RMSE vs n; (b) environment map; (d) MD stability."""
    fig, axes = plt.subplots(2, 2, figsize=(GRID[0], GRID[1] + 1.2), constrained_layout=True)
    _force_vs_n(axes[0, 0], table, target, target, source, npre, style, f"(a) test set: {name_of(names, target)}")
    projected = sorted(set(umap.loc[umap["role"] == "projected", "set"]))
    _environment_map(axes[0, 1], umap, {p: style["color"] for p in projected}, "(b) environments (SOAP, UMAP)", names)
    _force_vs_n(axes[1, 0], table, target, general, source, npre, style, f"(c) test set: {name_of(names, general)}")
    # (a) and (c) draw the same lines: one legend, below (c), as (d)'s is below (d)
    axes[1, 0].legend(*axes[1, 0].get_legend_handles_labels(), title="(a) and (c)", frameon=False, fontsize=8,
                      loc="upper left", bbox_to_anchor=(0.0, -0.16), borderaxespad=0, alignment="left")
    _md_panel(axes[1, 1], md, style)
    fig.suptitle(_title([f"Specialised data ({name_of(names, target)}): direct vs fine-tuned after pre-training on "
                         f"{style['label']} labels ({npre:,} structures)", SPREAD], note))
    fig.savefig(path)
    return fig


@styled
def fig5(table: pd.DataFrame, runs: pd.DataFrame, target: str, sources: list[str], pretrain_sizes: list[int],
         displays: dict, umap: pd.DataFrame, umap_colors: dict, bars_n: int, path: str, note: str = "",
         names: dict | None = None):
    """Fig 5: (a, b) force RMSE vs n per pre-training size for two alchemical sources, on one y range;
    (c) environment map; (d) force RMSE at n = bars_n, mean ± std over seeds with the seeds as points."""
    fig, axes = plt.subplots(2, 2, figsize=GRID, constrained_layout=True)
    direct = select(table, kind="direct", target=target, testset=target)
    values = []
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
        values.append(curve_values(curves, "force"))
        ax.set_title(f"({letter}) pre-trained on {style['label']}", loc="left")
        ax.legend(frameon=False, fontsize=8, title="Pre-training structures")
    fit_log_range(axes[0, :len(values)], np.concatenate(values))     # (a) and (b) on one range
    _environment_map(axes[1, 0], umap, umap_colors, "(c) environments (SOAP, UMAP)", names)
    _seed_bars(axes[1, 1], runs, target, sources, sorted(pretrain_sizes), displays, bars_n)
    fig.suptitle(_title([f"Alchemical pre-training, test set: {name_of(names, target)}", SPREAD], note))
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
            ax.plot(np.full(values.size, x), values, "o", color="white", markeredgecolor="black", markersize=4)
            worse = values[rows["force_worse_than_constant"].astype(bool).to_numpy()] \
                if "force_worse_than_constant" in rows else values[:0]
            if worse.size:
                dagger(ax, np.full(worse.size, x), worse)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([name for name, _ in groups])
    ax.set_xlabel("Number of pre-training structures")
    ax.set_ylabel(f"Force RMSE at n = {n} (eV/Å)")
    ax.set_title("(d) mean ± std over seeds (bar), seeds (○)", loc="left")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # head room for the legend above the bars
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    ax.grid(True, axis="y", alpha=0.25)


STRATEGY_COLORS = {"freeze": "#6fa8dc", "replay": "#77c9a8"}  # `all` is drawn in the source's colour


@styled
def fig6(table: pd.DataFrame, target: str, general: str, source: str, npre: int, strategies: dict[str, str | dict],
         style: dict, path: str, note: str = "", names: dict | None = None):
    """Fig 6: the accuracy-forgetting trade-off of fine-tuning strategies.  Columns: the specialised
    test set (`target`) and the general one; rows: energy and force RMSE vs n.  One curve per
    strategy (`strategies`: name -> its config spec, or its type), direct training, and the
    pre-trained model alone (marked at the axis edge when it is far off the curves)."""
    fig, axes = plt.subplots(2, 2, figsize=(GRID[0], GRID[1] + 0.4), constrained_layout=True, sharex=True)
    dashes = ["-", (0, (5, 2)), (0, (1, 1.5)), (0, (3, 1, 1, 1))]
    for col, testset in enumerate((target, general)):
        curves = [(DIRECT_STYLE, select(table, kind="direct", target=target, testset=testset))]
        for i, (name, spec) in enumerate(strategies.items()):
            kind = spec if isinstance(spec, str) else spec.get("type", name)
            color = style["color"] if kind == "all" else STRATEGY_COLORS.get(kind) or FALLBACK_COLORS[i]
            curves.append(({**style, "color": color, "label": strategy_label(name, spec),
                            "linestyle": dashes[i % len(dashes)]},
                           select(table, kind="finetune", source=source, npre=npre, target=target, testset=testset,
                                  strategy=name)))
        _require(curves, f"Fig 6, test set {testset}")
        pretrained = _pretrained(table, source, npre, testset)
        for row, (short, unit) in enumerate(METRICS):
            ax = axes[row, col]
            for s, rows in curves:
                draw_curve(ax, rows, short, s)
            learning_axes(ax, _sizes(curves), unit)
            line = [float(pretrained[f"{short}_best"].iloc[0])] if not pretrained.empty else []
            off = fit_log_range(ax, curve_values(curves, short), line)
            if line:
                label = _pretrained_label(f"pre-trained on {style['label']} only", pretrained, short)
                reference_line(ax, line[0], label, "0.45", short, bool(off))
            if row == 0:
                kind = "specialised" if testset == target else "general"
                ax.set_title(f"({'ab'[col]}) {kind} test set: {name_of(names, testset)}", loc="left")
                ax.set_xlabel("")
    handles, labels = axes[0, 1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(3, len(labels)), frameon=False)
    fig.suptitle(_title([f"Fine-tuning strategies on {name_of(names, target)} after pre-training on {style['label']} "
                         f"labels ({npre:,} structures):", "accuracy on the specialised data vs what is kept of the "
                         "general", SPREAD], note))
    fig.savefig(path)
    return fig
