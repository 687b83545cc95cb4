"""Our Table 1 against the paper's (Gardner, Baker & Deringer 2023, Table 1: energy RMSE, meV/atom).

Tables here are long: one row per cell, columns `n`, `source`, `mean`, `std` (ours also `diverged`).
The paper's table ships as resources/paper/table1.csv (see resources/paper/README.md).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

DIRECT = "Direct"
SIGMA = 2.0  # a cell disagrees when |ours - paper| > SIGMA x the paper's std

_CELL = re.compile(r"^\s*(?P<mean>[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
                   r"(?:\s*±\s*(?P<std>[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|nan))?\s*(?P<star>\*)?(?P<dagger>†)?\s*$")


def read_paper_table1(path: str | Path) -> pd.DataFrame:
    """The paper's Table 1 as a long frame: `n` (int), `source` (str), `mean`, `std` (float, meV/atom)."""
    frame = pd.read_csv(path, dtype={"source": str})
    frame["n"] = frame["n"].astype(int)
    frame[["mean", "std"]] = frame[["mean", "std"]].astype(float)
    return frame[["n", "source", "mean", "std"]]


def parse_cell(cell) -> tuple[float, float, bool]:
    """One cell of our table1.csv -> (mean, std, diverged).

    "61.1 ± 5.4*" -> (61.1, 5.4, True); "61.1" (a single run) -> (61.1, nan, False); a † (a run
    worse than a constant predictor, aggregate.table1) is allowed and not returned;
    an empty cell (NaN or "") -> (nan, nan, False). Anything else raises ValueError."""
    if cell is None or (isinstance(cell, float) and np.isnan(cell)) or str(cell).strip() == "":
        return float("nan"), float("nan"), False
    if isinstance(cell, (int, float, np.number)):
        return float(cell), float("nan"), False
    match = _CELL.match(str(cell))
    if match is None:
        raise ValueError(f"not a Table 1 cell: {cell!r}")
    std = float(match["std"]) if match["std"] is not None else float("nan")
    return float(match["mean"]), std, match["star"] is not None


def table1_long(table: pd.DataFrame) -> pd.DataFrame:
    """Our wide Table 1 (index `n`, one column per source label, cells as parse_cell reads them)
    -> long frame `n`, `source`, `mean`, `std`, `diverged`; empty cells are dropped."""
    rows = []
    for n, row in table.iterrows():
        for source, cell in row.items():
            mean, std, diverged = parse_cell(cell)
            if np.isfinite(mean):
                rows.append({"n": int(n), "source": str(source), "mean": mean, "std": std, "diverged": diverged})
    return pd.DataFrame(rows, columns=["n", "source", "mean", "std", "diverged"])


def compare(ours: pd.DataFrame, paper: pd.DataFrame, source_map: dict[str, str] | None = None) -> pd.DataFrame:
    """Cell-by-cell comparison for the cells (n, source) present in both tables.

    `source_map` renames our source labels to the paper's names; a label not in it is kept as is.
    Columns: n, source (paper name), ours_source, ours_mean, ours_std, paper_mean, paper_std,
    diff = ours_mean - paper_mean, z = diff / paper_std (NaN if the paper's std is 0 or missing),
    disagrees = |z| > 2 (False where z is NaN)."""
    source_map = source_map or {}
    left = ours[["n", "source", "mean", "std"]].rename(
        columns={"source": "ours_source", "mean": "ours_mean", "std": "ours_std"})
    left["source"] = left["ours_source"].map(lambda s: source_map.get(s, s))
    right = paper[["n", "source", "mean", "std"]].rename(columns={"mean": "paper_mean", "std": "paper_std"})
    left["n"], right["n"] = left["n"].astype(int), right["n"].astype(int)
    both = left.merge(right, on=["n", "source"], how="inner")
    both["diff"] = both["ours_mean"] - both["paper_mean"]
    scale = both["paper_std"].where(both["paper_std"] != 0)
    both["z"] = both["diff"] / scale
    both["disagrees"] = both["z"].abs() > SIGMA
    columns = ["n", "source", "ours_source", "ours_mean", "ours_std", "paper_mean", "paper_std",
               "diff", "z", "disagrees"]
    return both[columns].sort_values(["n", "source"]).reset_index(drop=True)


def _means(frame: pd.DataFrame, n: int) -> dict[str, float]:
    at = frame[(frame["n"] == n) & np.isfinite(frame["mean"].astype(float))]
    return dict(zip(at["source"].astype(str), at["mean"].astype(float)))


def _fmt(means: dict[str, float], sources: list[str]) -> str:
    return ", ".join(f"{s} {means[s]:.1f}" if s in means else f"{s} missing" for s in sources) or "none"


def _pct(change: float) -> str:
    return f"{'−' if change < 0 else '+'}{abs(change):.1f} %"


def _gain(means: dict[str, float], sources: list[str], direct: str) -> tuple[str, float, float] | None:
    """(best source, its mean, relative change vs direct in %) or None if direct or every source is missing."""
    present = [s for s in sources if s in means]
    if direct not in means or not present:
        return None
    best = min(present, key=lambda s: means[s])
    return best, means[best], 100.0 * (means[best] - means[direct]) / means[direct]


def claims(ours_long: pd.DataFrame, empirical: list[str], ml: list[str], direct: str = DIRECT) -> pd.DataFrame:
    """The paper's Table 1 orderings, checked on OUR numbers (mean energy RMSE; lower is better).

    (a) at the smallest n: every ML source < every empirical source < direct;
    (b) the best source (of empirical + ml) beats direct at the smallest n, by "direct X -> best Y (−Z %)";
    (c) the gains shrink with n: the best source's relative improvement over direct is smaller at the
        largest n than at the smallest n.
    "Smallest/largest n" are those at which `direct` has a finite mean. A claim whose numbers are
    missing is not reproduced. Index a, b, c; columns claim, value (text), reproduced (bool)."""
    frame = ours_long[["n", "source", "mean"]].copy()
    frame["source"] = frame["source"].astype(str)
    sources = list(ml) + [s for s in empirical if s not in ml]
    sizes = sorted(int(n) for n in set(frame[(frame["source"] == direct)
                                             & np.isfinite(frame["mean"].astype(float))]["n"]))
    rows = {}

    text_a = "at the smallest n, every ML source < every empirical source < direct"
    text_b = "at the smallest n, the best source improves on direct"
    text_c = "the best source's relative improvement over direct is smaller at the largest n than at the smallest"
    if not sizes:
        for key, text in (("a", text_a), ("b", text_b), ("c", text_c)):
            rows[key] = {"claim": text, "value": f"no {direct} results", "reproduced": False}
        return pd.DataFrame.from_dict(rows, orient="index")[["claim", "value", "reproduced"]]

    small, large = sizes[0], sizes[-1]
    means = _means(frame, small)

    tiers = [list(ml), list(empirical), [direct]]
    tiers = [t for t in tiers if t]
    complete = all(s in means for t in tiers for s in t)
    ordered = complete and all(max(means[s] for s in lo) < min(means[s] for s in hi)
                               for lo, hi in zip(tiers, tiers[1:]))
    value_a = (f"n={small}: ML {_fmt(means, list(ml))}; empirical {_fmt(means, list(empirical))}; "
               f"{direct} {means[direct]:.1f}")
    rows["a"] = {"claim": text_a, "value": value_a, "reproduced": bool(ordered)}

    gain_small = _gain(means, sources, direct)
    if gain_small is None:
        rows["b"] = {"claim": text_b, "value": f"n={small}: no source results", "reproduced": False}
    else:
        best, best_mean, change = gain_small
        value_b = f"n={small}: direct {means[direct]:.1f} -> best {best} {best_mean:.1f} ({_pct(change)})"
        rows["b"] = {"claim": text_b, "value": value_b, "reproduced": bool(best_mean < means[direct])}

    gain_large = _gain(_means(frame, large), sources, direct)
    if large == small or gain_small is None or gain_large is None:
        value_c = f"needs direct and a source at two sizes; have direct at n={sizes}"
        rows["c"] = {"claim": text_c, "value": value_c, "reproduced": False}
    else:
        value_c = (f"n={small}: best {gain_small[0]} {_pct(gain_small[2])}; "
                   f"n={large}: best {gain_large[0]} {_pct(gain_large[2])}")
        # improvement = -change; "smaller improvement at large n" <=> change_large > change_small
        rows["c"] = {"claim": text_c, "value": value_c, "reproduced": bool(gain_large[2] > gain_small[2])}
    return pd.DataFrame.from_dict(rows, orient="index")[["claim", "value", "reproduced"]]
