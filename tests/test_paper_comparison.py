import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synpretrain.paper_comparison import claims, compare, parse_cell, read_paper_table1, table1_long

REPO = Path(__file__).parents[1]
PAPER_CSV = REPO / "resources" / "paper" / "table1.csv"
# the paper beside the repository (../shared/paper/, where the team keeps it), or where the variable says
PAPER_TEXT = Path(os.environ.get("SYNPRETRAIN_PAPER_TEXT", REPO.parent / "shared" / "paper" / "synthetic-pretraining-nnp.md"))

# Table 1 of the paper, typed a second time from the text (rows n; Direct, EDIP, LCBOP, GAP-20U, C-ACE).
SOURCES = ["Direct", "EDIP", "LCBOP", "GAP-20U", "C-ACE"]
PRINTED = {
    25: [(192.3, 21.2), (136.4, 5.8), (129.9, 3.9), (73.1, 3.6), (70.3, 2.8)],
    50: [(166.1, 15.5), (134.6, 7.1), (119.0, 4.7), (69.7, 1.2), (71.8, 6.9)],
    100: [(129.2, 5.3), (115.6, 1.4), (106.3, 6.4), (63.1, 1.1), (63.0, 1.5)],
    200: [(96.1, 2.8), (90.9, 2.7), (87.1, 0.8), (55.5, 0.4), (53.8, 0.6)],
    400: [(87.2, 3.5), (83.3, 6.2), (80.6, 2.3), (52.8, 0.6), (51.9, 1.0)],
    800: [(69.1, 2.8), (71.1, 19.2), (68.1, 1.3), (51.4, 0.8), (50.2, 1.7)],
    1600: [(56.0, 1.5), (56.1, 4.0), (54.9, 0.8), (49.2, 0.8), (48.2, 0.4)],
    3200: [(51.0, 6.2), (88.2, 72.3), (48.2, 0.9), (45.9, 0.5), (45.4, 0.4)],
}
STARRED = {(800, "EDIP"), (3200, "Direct"), (3200, "EDIP")}


def long(rows):
    return pd.DataFrame(rows, columns=["n", "source", "mean", "std"])


def as_dict(frame):
    return {(int(r.n), r.source): (r.mean, r.std) for r in frame.itertuples()}


# --- the transcription ------------------------------------------------------------------------

def test_csv_is_the_printed_table():
    paper = read_paper_table1(PAPER_CSV)
    assert list(paper.columns) == ["n", "source", "mean", "std"]
    expected = {(n, s): cell for n, cells in PRINTED.items() for s, cell in zip(SOURCES, cells)}
    assert len(paper) == len(expected) == 40
    assert as_dict(paper) == expected


def paper_table_from_text(text):
    """Table 1 parsed from the paper's text: header row of sources, then rows 'n<TAB>m $\\pm$ s...'."""
    start = text.index("**Table 1:**")
    block = text[start:text.index("## 5.2", start)]
    header = next(line for line in block.splitlines() if "EDIP" in line and "C-ACE" in line)
    names = ["Direct"] + [re.sub(r"\s*\[\d+\]$", "", h.strip()) for h in header.split("\t") if h.strip()]
    cell = re.compile(r"(\d+(?:\.\d+)?)\s*\$\\pm\$\s*(\d+(?:\.\d+)?)(\*?)")
    table, starred = {}, set()
    for line in block.splitlines():
        row = re.match(r"^(?:Training structures)?\t(\d+)\t(.*)$", line)
        if not row:
            continue
        cells = cell.findall(row[2])
        assert len(cells) == len(names), line
        for name, (mean, std, star) in zip(names, cells):
            table[(int(row[1]), name)] = (float(mean), float(std))
            if star:
                starred.add((int(row[1]), name))
    return names, table, starred


@pytest.mark.skipif(not PAPER_TEXT.exists(), reason=f"paper text not at {PAPER_TEXT}")
def test_csv_matches_the_paper_text():
    names, table, starred = paper_table_from_text(PAPER_TEXT.read_text(encoding="utf-8"))
    assert names == SOURCES
    assert len(table) == 40
    assert as_dict(read_paper_table1(PAPER_CSV)) == table
    assert starred == STARRED


def test_the_paper_table_satisfies_its_own_claims():
    result = claims(read_paper_table1(PAPER_CSV), empirical=["EDIP", "LCBOP"], ml=["GAP-20U", "C-ACE"])
    assert result["reproduced"].all()
    assert result.loc["b", "value"] == "n=25: direct 192.3 -> best C-ACE 70.3 (−63.4 %)"
    assert result.loc["c", "value"] == "n=25: best C-ACE −63.4 %; n=3200: best C-ACE −11.0 %"


# --- parse_cell ---------------------------------------------------------------------------------

def test_parse_cell():
    assert parse_cell("61.1 ± 5.4") == (61.1, 5.4, False)
    assert parse_cell("61.1 ± 5.4*") == (61.1, 5.4, True)
    assert parse_cell("335.0 ± 21.2†") == (335.0, 21.2, False) and parse_cell("9.0 ± 1.0*†") == (9.0, 1.0, True)
    assert parse_cell("439.5 ± 127.9") == (439.5, 127.9, False)
    mean, std, diverged = parse_cell("61.1*")                 # a single run: no std
    assert (mean, diverged) == (61.1, True) and math.isnan(std)
    for empty in ("", float("nan"), None):
        mean, std, diverged = parse_cell(empty)
        assert math.isnan(mean) and math.isnan(std) and not diverged
    with pytest.raises(ValueError):
        parse_cell("n/a")


def test_table1_long_reads_our_csv(tmp_path):
    wide = pd.DataFrame({"Direct": ["192.0 ± 20.0", "100.0 ± 1.0*"], "CHGNet": ["70.0 ± 3.0", ""]},
                        index=pd.Index([10, 20], name="n"))
    wide.to_csv(tmp_path / "table1.csv")
    frame = table1_long(pd.read_csv(tmp_path / "table1.csv", index_col="n"))
    assert frame.to_dict("records") == [
        {"n": 10, "source": "Direct", "mean": 192.0, "std": 20.0, "diverged": False},
        {"n": 10, "source": "CHGNet", "mean": 70.0, "std": 3.0, "diverged": False},
        {"n": 20, "source": "Direct", "mean": 100.0, "std": 1.0, "diverged": True},
    ]


# --- compare ------------------------------------------------------------------------------------

def test_compare_arithmetic_flag_and_skipped_cells():
    ours = long([(25, "Direct", 200.0, 10.0), (25, "CHGNet", 80.0, 2.0), (50, "Direct", 170.0, 5.0),
                 (25, "Tersoff", 150.0, 1.0),       # not in the paper's table: skipped
                 (99, "Direct", 1.0, 1.0)])         # n not in the paper's table: skipped
    paper = long([(25, "Direct", 192.3, 21.2), (25, "C-ACE", 70.3, 2.8), (50, "Direct", 166.1, 0.0),
                   (100, "Direct", 129.2, 5.3)])    # not in ours: skipped
    result = compare(ours, paper, source_map={"CHGNet": "C-ACE"})
    assert list(result[["n", "source"]].itertuples(index=False, name=None)) == [
        (25, "C-ACE"), (25, "Direct"), (50, "Direct")]
    ace = result.iloc[0]
    assert ace["ours_source"] == "CHGNet"
    assert (ace["ours_mean"], ace["ours_std"], ace["paper_mean"], ace["paper_std"]) == (80.0, 2.0, 70.3, 2.8)
    assert ace["diff"] == pytest.approx(9.7)
    assert ace["z"] == pytest.approx(9.7 / 2.8)               # 3.46 sigma
    assert ace["disagrees"]
    direct = result.iloc[1]
    assert direct["diff"] == pytest.approx(7.7)
    assert direct["z"] == pytest.approx(7.7 / 21.2)           # 0.36 sigma
    assert not direct["disagrees"]
    zero = result.iloc[2]                                     # paper std 0: z NaN, not flagged
    assert zero["diff"] == pytest.approx(3.9) and np.isnan(zero["z"]) and not zero["disagrees"]


def test_compare_two_sigma_boundary():
    paper = long([(10, "Direct", 100.0, 5.0)])
    at = compare(long([(10, "Direct", 110.0, 1.0)]), paper)        # z = +2 exactly: not > 2
    below = compare(long([(10, "Direct", 89.0, 1.0)]), paper)      # z = -2.2
    assert at.loc[0, "z"] == pytest.approx(2.0) and not at.loc[0, "disagrees"]
    assert below.loc[0, "z"] == pytest.approx(-2.2) and below.loc[0, "disagrees"]


def test_compare_without_common_cells_is_empty():
    assert compare(long([(10, "X", 1.0, 1.0)]), long([(10, "Y", 1.0, 1.0)])).empty


# --- claims -------------------------------------------------------------------------------------

EMP, ML = ["EmpA", "EmpB"], ["MLA", "MLB"]


def grid(small, large):
    """Cells at n = 10 (small) and 40 (large); each a dict source -> mean."""
    rows = [(10, s, m, 1.0) for s, m in small.items()] + [(40, s, m, 1.0) for s, m in large.items()]
    return long(rows)


GOOD_SMALL = {"Direct": 200.0, "EmpA": 150.0, "EmpB": 140.0, "MLA": 80.0, "MLB": 60.0}
GOOD_LARGE = {"Direct": 50.0, "EmpA": 49.0, "EmpB": 48.0, "MLA": 46.0, "MLB": 45.0}


def test_claims_all_hold():
    result = claims(grid(GOOD_SMALL, GOOD_LARGE), EMP, ML)
    assert list(result.index) == ["a", "b", "c"]
    assert list(result.columns) == ["claim", "value", "reproduced"]
    assert result["reproduced"].tolist() == [True, True, True]
    assert result.loc["b", "value"] == "n=10: direct 200.0 -> best MLB 60.0 (−70.0 %)"
    assert result.loc["c", "value"] == "n=10: best MLB −70.0 %; n=40: best MLB −10.0 %"


def test_claim_a_fails_when_an_ml_source_is_worse_than_an_empirical_one():
    small = {**GOOD_SMALL, "MLA": 145.0}
    assert claims(grid(small, GOOD_LARGE), EMP, ML)["reproduced"].tolist() == [False, True, True]


def test_claim_a_fails_when_an_empirical_source_is_worse_than_direct():
    small = {**GOOD_SMALL, "EmpA": 210.0}
    assert claims(grid(small, GOOD_LARGE), EMP, ML)["reproduced"].tolist() == [False, True, True]


def test_claim_a_fails_when_a_source_is_missing():
    small = {k: v for k, v in GOOD_SMALL.items() if k != "EmpB"}
    result = claims(grid(small, GOOD_LARGE), EMP, ML)
    assert not result.loc["a", "reproduced"] and "EmpB missing" in result.loc["a", "value"]


def test_claim_b_fails_when_no_source_beats_direct():
    small = {"Direct": 50.0, "EmpA": 70.0, "EmpB": 65.0, "MLA": 60.0, "MLB": 55.0}
    result = claims(grid(small, GOOD_LARGE), EMP, ML)
    assert result["reproduced"].tolist() == [False, False, False]
    assert result.loc["b", "value"] == "n=10: direct 50.0 -> best MLB 55.0 (+10.0 %)"


def test_claim_c_fails_when_gains_grow_with_n():
    large = {"Direct": 100.0, "EmpA": 90.0, "EmpB": 80.0, "MLA": 20.0, "MLB": 10.0}   # -90 % > -70 %
    result = claims(grid(GOOD_SMALL, large), EMP, ML)
    assert result["reproduced"].tolist() == [True, True, False]


def test_claims_at_one_size_and_any_sources():
    result = claims(grid({"Direct": 10.0, "Only": 5.0}, {}), empirical=[], ml=["Only"])
    assert result["reproduced"].tolist() == [True, True, False]          # (c) needs two sizes
    empty = claims(long([(5, "Only", 1.0, 0.1)]), empirical=[], ml=["Only"])
    assert not empty["reproduced"].any()                                  # no direct results at all
