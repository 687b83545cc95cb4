"""From per-model evaluation JSONs to learning curves and Table 1.

A run counts as *diverged* (the paper's asterisk) when its training produced non-finite
validation metrics or non-finite predictions, or when its error exceeds `OUTLIER_FACTOR` times
the median of the other seeds of the same point: the "sudden increase in loss" the paper saw.
Diverged runs are kept in every table and flagged, never silently removed.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .layout import ALL
from .metrics import mean_std

ENERGY, FORCE = "energy_rmse_mev_per_atom", "force_rmse_ev_per_a"
POINT = ["kind", "source", "npre", "target", "n", "testset", "strategy"]
OUTLIER_FACTOR = 3.0


def load_evaluations(paths: Iterable[str | Path]) -> pd.DataFrame:
    rows = [json.loads(Path(p).read_text()) for p in paths]
    if not rows:
        raise ValueError("no evaluation files given")
    frame = pd.DataFrame(rows)
    frame["target"] = frame["target"].fillna("")
    return mark_diverged(frame)


def with_strategy(frame: pd.DataFrame) -> pd.DataFrame:
    """Records written before fine-tuning strategies existed fine-tuned every weight."""
    frame = frame.copy()
    frame["strategy"] = frame["strategy"].fillna(ALL) if "strategy" in frame else ALL
    return frame


def read_table(path: str | Path) -> pd.DataFrame:
    """A runs or curves table as `learning_curves.py` wrote it (a pre-trained model's empty target
    read back as "", not NaN, so that selections by target work as on the written frame)."""
    frame = pd.read_csv(path)
    if "target" in frame:
        frame["target"] = frame["target"].fillna("")
    return frame


def mark_diverged(frame: pd.DataFrame) -> pd.DataFrame:
    frame = with_strategy(frame)
    broken = ~frame["finite_predictions"].astype(bool) | frame["nan_in_validation"].fillna(False).astype(bool)
    broken |= ~np.isfinite(frame[ENERGY]) | ~np.isfinite(frame[FORCE])
    outlier = pd.Series(False, index=frame.index)
    for _, group in frame.groupby(POINT):
        if len(group) < 3:
            continue
        for metric in (ENERGY, FORCE):
            for i in group.index:
                others = group[metric].drop(i)
                if np.isfinite(others).any() and frame.at[i, metric] > OUTLIER_FACTOR * np.nanmedian(others):
                    outlier[i] = True
    frame["diverged"] = broken | outlier
    return frame


def learning_curves(frame: pd.DataFrame) -> pd.DataFrame:
    """Per point: best (min over seeds, per metric, as the paper plots), mean, std, range."""
    rows = []
    for key, group in with_strategy(frame).groupby(POINT, dropna=False):
        row = dict(zip(POINT, key))
        row["n_seeds"] = len(group)
        row["n_diverged"] = int(group["diverged"].sum())
        for metric, short in ((ENERGY, "energy"), (FORCE, "force")):
            values = group[metric].to_numpy(dtype=float)
            mean, std = mean_std(values)
            row.update({f"{short}_best": np.nanmin(values), f"{short}_mean": mean, f"{short}_std": std,
                        f"{short}_min": np.nanmin(values), f"{short}_max": np.nanmax(values)})
        rows.append(row)
    return pd.DataFrame(rows).sort_values(POINT).reset_index(drop=True)


def table1(frame: pd.DataFrame, target: str, npre: int, sources: list[str], labels: dict[str, str]) -> pd.DataFrame:
    """Energy RMSE mean ± std (meV/atom) over seeds, rows = n, columns = Direct + sources.

    A cell is marked `*` when one or more of its runs diverged."""
    on_target = frame[(frame["testset"] == target) & (frame["target"] == target)]
    columns = {"Direct": on_target[on_target["kind"] == "direct"]}
    for source in sources:
        columns[labels.get(source, source)] = on_target[(on_target["kind"] == "finetune")
                                                        & (on_target["source"] == source)
                                                        & (on_target["npre"] == npre)]
    sizes = sorted(set(on_target["n"]) - {0})
    table = pd.DataFrame(index=pd.Index(sizes, name="n"), columns=list(columns), dtype=object)
    for column, runs in columns.items():
        for n in sizes:
            cell = runs[runs["n"] == n]
            if cell.empty:
                table.loc[n, column] = ""
                continue
            mean, std = mean_std(cell[ENERGY].to_numpy(dtype=float))
            mark = "*" if cell["diverged"].any() else ""
            table.loc[n, column] = f"{mean:.1f} ± {std:.1f}{mark}" if np.isfinite(std) else f"{mean:.1f}{mark}"
    return table


def table_markdown(table: pd.DataFrame, caption: str) -> str:
    header = "| n | " + " | ".join(table.columns) + " |"
    rule = "|---:|" + "---:|" * len(table.columns)
    lines = [f"**{caption}**", "", header, rule]
    lines += [f"| {n} | " + " | ".join(str(v) for v in row) + " |" for n, row in table.iterrows()]
    return "\n".join(lines) + "\n"


def table_latex(table: pd.DataFrame, caption: str) -> str:
    escape = lambda s: str(s).replace("±", r"$\pm$").replace("*", r"$^*$")
    lines = [r"\begin{table}", r"\centering", f"\\caption{{{caption}}}",
             r"\begin{tabular}{r" + "r" * len(table.columns) + "}", r"\hline",
             "Training structures & " + " & ".join(table.columns) + r" \\", r"\hline"]
    lines += [f"{n} & " + " & ".join(escape(v) for v in row) + r" \\" for n, row in table.iterrows()]
    lines += [r"\hline", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"
