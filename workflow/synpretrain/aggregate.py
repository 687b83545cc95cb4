"""From per-model evaluation JSONs to learning curves and Table 1.

A run counts as *diverged* (the paper's asterisk) when its training produced non-finite
validation metrics or non-finite predictions, or when its error exceeds `OUTLIER_FACTOR` times
the median of the other seeds of the same point: the "sudden increase in loss" the paper saw.
Diverged runs are kept in every table and flagged, never silently removed.

A run is *worse than constant* (marked †) when its energy RMSE exceeds that of predicting the test
set's mean energy per atom for every structure, or its force RMSE that of predicting zero force
(both written by `evaluation.evaluate`; a record without them is not flagged): no trained model
should lose to either, so such a result is reported as impossible, not as a learning curve.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .layout import ALL, ModelId
from .metrics import mean_std

ENERGY, FORCE = "energy_rmse_mev_per_atom", "force_rmse_ev_per_a"
POINT = ["kind", "source", "npre", "target", "n", "testset", "strategy"]
OUTLIER_FACTOR = 3.0
BASELINES = {ENERGY: "energy_rmse_mean_predictor_mev_per_atom", FORCE: "force_rmse_zero_predictor_ev_per_a"}
SHORT = {ENERGY: "energy", FORCE: "force"}
WORSE = "worse_than_constant"
DAGGER = "†"


def load_evaluations(paths: Iterable[str | Path]) -> pd.DataFrame:
    rows = [json.loads(Path(p).read_text()) for p in paths]
    if not rows:
        raise ValueError("no evaluation files given")
    frame = pd.DataFrame(rows)
    frame["target"] = frame["target"].fillna("")
    return mark_worse_than_constant(mark_diverged(frame))


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


def mark_worse_than_constant(frame: pd.DataFrame) -> pd.DataFrame:
    """`energy_worse_than_constant`, `force_worse_than_constant` and their `or`, `worse_than_constant`."""
    frame = frame.copy()
    for metric, short in SHORT.items():
        baseline = frame[BASELINES[metric]].astype(float) if BASELINES[metric] in frame else np.nan
        frame[f"{short}_{WORSE}"] = frame[metric].astype(float) > baseline   # NaN (unknown) compares False
    frame[WORSE] = frame[f"energy_{WORSE}"] | frame[f"force_{WORSE}"]
    return frame


def worse_than_constant_lines(frame: pd.DataFrame) -> list[str]:
    """One line per flagged (run, metric): model path, test set, the metric against its constant predictor."""
    frame = mark_worse_than_constant(frame)
    words = {ENERGY: ("energy", ".1f", "meV/atom", "predicting the test set's mean energy per atom"),
             FORCE: ("force", ".3f", "eV/Å", "predicting zero force")}
    lines = []
    for _, run in frame[frame[WORSE]].iterrows():
        for metric, (name, digits, unit, constant) in words.items():
            if run[f"{SHORT[metric]}_{WORSE}"]:
                lines.append(f"{model_path(run)} on {run['testset']}: {name} RMSE {run[metric]:{digits}} {unit} > "
                             f"{run[BASELINES[metric]]:{digits}} {unit} of {constant}")
    return lines


def model_path(run) -> str:
    """The `ModelId.path` of a runs-table row (its folder below results/models/ and results/eval/)."""
    if run["kind"] == "pretrain":
        return ModelId("pretrain", int(run["npre"]), source=run["source"]).path
    if run["kind"] == "finetune":
        return ModelId("finetune", int(run["n"]), source=run["source"], npre=int(run["npre"]), target=run["target"],
                       seed=int(run["seed"]), strategy=run.get("strategy", ALL)).path
    return ModelId("direct", int(run["n"]), target=run["target"], seed=int(run["seed"])).path


def learning_curves(frame: pd.DataFrame) -> pd.DataFrame:
    """Per point: best (min over seeds, per metric, as the paper plots), mean, std, range; the
    constant predictors' errors and how many runs are worse than them."""
    rows = []
    for key, group in mark_worse_than_constant(with_strategy(frame)).groupby(POINT, dropna=False):
        row = dict(zip(POINT, key))
        row["n_seeds"] = len(group)
        row["n_diverged"] = int(group["diverged"].sum())
        row[f"n_{WORSE}"] = int(group[WORSE].sum())
        for metric, short in SHORT.items():
            values = group[metric].to_numpy(dtype=float)
            mean, std = mean_std(values)
            baselines = group[BASELINES[metric]].to_numpy(dtype=float) if BASELINES[metric] in group else [np.nan]
            row.update({f"{short}_best": np.nanmin(values), f"{short}_mean": mean, f"{short}_std": std,
                        f"{short}_min": np.nanmin(values), f"{short}_max": np.nanmax(values),
                        f"{short}_constant": np.nanmax(baselines) if np.isfinite(baselines).any() else np.nan,
                        f"{short}_n_{WORSE}": int(group[f"{short}_{WORSE}"].sum())})
        rows.append(row)
    return pd.DataFrame(rows).sort_values(POINT).reset_index(drop=True)


def table1_columns(frame: pd.DataFrame, target: str, npre: int, sources: list[str],
                   labels: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Table 1's runs by column (Direct + sources), on the target's test set."""
    on_target = frame[(frame["testset"] == target) & (frame["target"] == target)]
    columns = {"Direct": on_target[on_target["kind"] == "direct"]}
    for source in sources:
        columns[labels.get(source, source)] = on_target[(on_target["kind"] == "finetune")
                                                        & (on_target["source"] == source)
                                                        & (on_target["npre"] == npre)]
    return columns


def table1(frame: pd.DataFrame, target: str, npre: int, sources: list[str], labels: dict[str, str]) -> pd.DataFrame:
    """Energy RMSE mean ± std (meV/atom) over seeds, rows = n, columns = Direct + sources.

    A cell is marked `*` when one or more of its runs diverged, `†` when one or more is worse than
    a constant predictor (in energy or forces)."""
    frame = mark_worse_than_constant(frame)
    columns = table1_columns(frame, target, npre, sources, labels)
    sizes = sorted(set(frame.loc[(frame["testset"] == target) & (frame["target"] == target), "n"]) - {0})
    table = pd.DataFrame(index=pd.Index(sizes, name="n"), columns=list(columns), dtype=object)
    for column, runs in columns.items():
        for n in sizes:
            cell = runs[runs["n"] == n]
            if cell.empty:
                table.loc[n, column] = ""
                continue
            mean, std = mean_std(cell[ENERGY].to_numpy(dtype=float))
            mark = ("*" if cell["diverged"].any() else "") + (DAGGER if cell[WORSE].any() else "")
            table.loc[n, column] = f"{mean:.1f} ± {std:.1f}{mark}" if np.isfinite(std) else f"{mean:.1f}{mark}"
    return table


def table_markdown(table: pd.DataFrame, caption: str, notes: list[str] = ()) -> str:
    """The table under its caption; `notes`, if any, listed below it (the † cells' runs)."""
    header = "| n | " + " | ".join(table.columns) + " |"
    rule = "|---:|" + "---:|" * len(table.columns)
    lines = [f"**{caption}**", "", header, rule]
    lines += [f"| {n} | " + " | ".join(str(v) for v in row) + " |" for n, row in table.iterrows()]
    if notes:
        lines += ["", f"{DAGGER} Worse than a constant predictor:", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _latex_cell(cell) -> str:
    r"""'61.1 ± 5.4*†' -> '61.1 $\pm$ 5.4$^{*\dagger}$': the marks in one superscript ('$^*$$^\dagger$'
    would open display math)."""
    text = str(cell).replace("±", r"$\pm$")
    value = text.rstrip("*" + DAGGER)
    marks = text[len(value):]
    sup = marks.replace(DAGGER, r"\dagger")
    return value + (f"$^{{{sup}}}$" if len(marks) > 1 else f"$^{sup}$" if marks else "")


def table_latex(table: pd.DataFrame, caption: str) -> str:
    lines = [r"\begin{table}", r"\centering", f"\\caption{{{caption}}}",
             r"\begin{tabular}{r" + "r" * len(table.columns) + "}", r"\hline",
             "Training structures & " + " & ".join(table.columns) + r" \\", r"\hline"]
    lines += [f"{n} & " + " & ".join(_latex_cell(v) for v in row) + r" \\" for n, row in table.iterrows()]
    lines += [r"\hline", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"
