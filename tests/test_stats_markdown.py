"""How dlenergy.stats renders its tables for reviewers (Markdown: the digits and notation of every number,
yes/no, CIs beside their values, empty columns, escaping, the page around the tables), the one-row
tables of a skipped analysis, and the ``stats:`` configuration loader (defaults and refusals as
workflow/schemas/config.schema.yaml, overrides as config.yaml, the spellings of "no p-value adjustment").

Every expected string below is worked out by hand from the notation rules (p-values: 3 significant
digits; reductions and F1 decreases: per cent with 2 decimals; error percentages: 1 decimal; whole
numbers: no decimals; other numbers: 4 significant digits, plain digits from 10 000 on)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from dlenergy import stats as S

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------------------
# one cell


@pytest.mark.parametrize(
    ("value", "col", "text"),
    [
        # missing and infinite values are blank
        (None, "rho", ""),
        (np.nan, "rho", ""),
        (np.inf, "energy_j", ""),
        # booleans (Python and numpy) read yes/no
        (True, "significant", "yes"),
        (False, "significant", "no"),
        (np.bool_(True), "pareto_all", "yes"),
        (np.bool_(False), "pareto_all", "no"),
        # integers as they are
        (7, "n", "7"),
        (np.int64(12), "n", "12"),
        # p-values: 3 significant digits, whatever the column's p-naming
        (0.0004, "p_value", "0.0004"),
        (0.04567, "p_value", "0.0457"),
        (1.234e-7, "p_value", "1.23e-07"),
        (0.00041234, "p_adjusted", "0.000412"),
        (0.012345, "p_unadjusted", "0.0123"),
        (0.012345, "shapiro_p", "0.0123"),
        (0.98765, "levene_p", "0.988"),
        # reductions and F1 decreases: fractions shown in per cent with 2 decimals
        (0.6378, "reduction", "63.78 %"),
        (0.0123, "f1_decrease", "1.23 %"),
        (-0.0456, "f1_decrease", "-4.56 %"),
        # an error percentage: 1 decimal; other percentages: 4 significant digits
        (12.36, "median_tdp_estimate_error_pct", "12.4"),
        (93.456, "gpu_usage_pct", "93.46"),
        (0.1234, "error_share", "0.1234"),
        # whole numbers stored as floats: no decimals
        (3.0, "median_energy_per_image_j", "3"),
        (-2.0, "median_f1", "-2"),
        (999999.0, "energy_j", "999999"),
        (1e6, "energy_j", "1000000"),
        # other numbers: 4 significant digits below 10 000, plain rounded digits from 10 000 on
        (0.123456, "rho", "0.1235"),
        (12.345678, "eta2", "12.35"),
        (1234.56, "energy_j", "1235"),
        (9999.4, "energy_j", "9999"),
        (9999.6, "energy_j", "10000"),  # not "1e+04": it would round up to 10 000 at 4 digits
        (10000.7, "energy_j", "10001"),
        (12345.6, "energy_j", "12346"),
        # text as it is
        ("cloud", "environment", "cloud"),
    ],
)
def test_fmt_renders_each_kind_of_value(value, col, text):
    assert S._fmt(value, col) == text


# ----------------------------------------------------------------------------------------------
# one table


def test_markdown_table_exact():
    """analysis/subset are not shown, an all-empty column of a multi-row table is left out but ``note``
    stays, ``|`` inside a cell is escaped, and the separator row has one ``---`` per column."""
    df = pd.DataFrame(
        {
            "analysis": ["table3", "table3"],
            "subset": ["environment == cloud", "environment == cloud"],
            "group": ["vgg16|xception", "resnet50"],
            "n": [5, 12],
            "shapiro_p": [0.012345, 0.5],
            "empty": [np.nan, np.nan],
            "significant": [True, False],
            "note": [np.nan, np.nan],
        }
    )
    assert S.markdown_table(df) == "\n".join(
        [
            "| group | n | shapiro_p | significant | note |",
            "| --- | --- | --- | --- | --- |",
            "| vgg16\\|xception | 5 | 0.0123 | yes |  |",
            "| resnet50 | 12 | 0.5 | no |  |",
        ]
    )


def test_markdown_table_of_one_row_keeps_its_empty_columns():
    """A one-row table (a skipped analysis) shows every column, empty ones blank."""
    t = S.skipped("table6_spearman_flops", "no runs", ["analysis", "subset", "rho", "status", "note"])
    assert S.markdown_table(t) == "\n".join(
        ["| rho | status | note |", "| --- | --- | --- |", "|  | skipped | skipped: no runs |"]
    )


def test_markdown_cis_join_only_complete_companions():
    """``X [CI]`` only where both bounds exist; a half-missing interval shows the value alone; a
    ``_ci_low`` column whose base column is absent, or whose ``_ci_high`` is absent, is an ordinary
    column; a name that itself contains ``_ci_`` (and no column named as its first part) pairs with its
    own companions."""
    df = pd.DataFrame(
        {
            "rho": [0.79, 0.5],
            "rho_ci_low": [0.61, np.nan],
            "rho_ci_high": [0.9, 0.7],
            "foo_ci_low": [1.5, 2.5],
            "eta2": [0.1, 0.2],
            "eta2_ci_low": [0.05, 0.1],
            "delta_ci_b": [0.3, 0.4],
            "delta_ci_b_ci_low": [0.1, 0.2],
            "delta_ci_b_ci_high": [0.5, 0.6],
        }
    )
    head, cells = S._cells(df)
    assert head == ["rho [CI]", "foo_ci_low", "eta2", "eta2_ci_low", "delta_ci_b [CI]"]
    assert cells == [
        ["0.79 [0.61, 0.9]", "1.5", "0.1", "0.05", "0.3 [0.1, 0.5]"],
        ["0.5", "2.5", "0.2", "0.1", "0.4 [0.2, 0.6]"],
    ]


# ----------------------------------------------------------------------------------------------
# the page


def test_markdown_document_exact():
    t1 = pd.DataFrame(
        {
            "analysis": ["kruskal_dunn_rq1"] * 5,
            "subset": ["environment == cloud", "", "environment == local", "environment == cloud", None],
            "variable": ["energy_per_image_j", "f1", "gpu_usage_pct", "time_per_image_ms", "duration_min"],
            "p_value": [0.0004, 0.04567, 1.234e-7, np.nan, 0.5],
        }
    )
    t2 = pd.DataFrame({"group": ["a"], "reduction": [0.6378]})  # no subset column
    t3 = S.skipped("table7_kruskal_ram", "1 allocated-RAM level", ["analysis", "subset", "variable", "status", "note"])
    md = S.markdown_document(
        "Stats RQ1",
        [("Kruskal-Wallis", t1), ("", t2), ("Skipped", t3)],
        label="synthetic sample (seed 1)",
        source="sample",
        notes=["p-values: Dunn, bonferroni", "CIs: BCa, 9999 resamples"],
    )
    assert md == "\n".join(
        [
            "# Stats RQ1",
            "",
            "> **Data label:** synthetic sample (seed 1)",
            "",
            "Source: `sample`",
            "",
            "- p-values: Dunn, bonferroni",
            "- CIs: BCa, 9999 resamples",
            "",
            "## Kruskal-Wallis",
            "",
            "Runs: `environment == cloud` | `environment == local`",
            "",
            "| variable | p_value |",
            "| --- | --- |",
            "| energy_per_image_j | 0.0004 |",
            "| f1 | 0.0457 |",
            "| gpu_usage_pct | 1.23e-07 |",
            "| time_per_image_ms |  |",
            "| duration_min | 0.5 |",
            "",
            "| group | reduction |",
            "| --- | --- |",
            "| a | 63.78 % |",
            "",
            "## Skipped",
            "",
            "| variable | status | note |",
            "| --- | --- | --- |",
            "|  | skipped | skipped: 1 allocated-RAM level |",
            "",
        ]
    )


def test_markdown_document_without_label_or_notes():
    t = pd.DataFrame({"subset": [np.nan, np.nan], "n": [3, 4]})
    assert S.markdown_document("T", [("", t)], label=None, source="real", notes=[]) == "\n".join(
        ["# T", "", "Source: `real`", "", "| n |", "| --- |", "| 3 |", "| 4 |", ""]
    )


# ----------------------------------------------------------------------------------------------
# skipped analyses


def test_skipped_is_one_row_of_exactly_the_given_columns():
    t = S.skipped("tradeoff", "no runs", ["analysis", "subset", "n", "status", "note"], "environment == cloud")
    expected = pd.DataFrame(
        [["tradeoff", "environment == cloud", np.nan, "skipped", "skipped: no runs"]],
        columns=["analysis", "subset", "n", "status", "note"],
    )
    pd.testing.assert_frame_equal(t, expected)
    # no subset given: an empty one
    assert S.skipped("a", "r", ["analysis", "subset", "status", "note"]).subset.tolist() == [""]
    # columns not asked for are not added (the table's schema is `columns`)
    t = S.skipped("energy_check", "no runs", ["status", "note", "n"])
    assert list(t.columns) == ["status", "note", "n"] and t.note.tolist() == ["skipped: no runs"]


def test_tradeoff_table_of_no_runs_is_a_skipped_tradeoff_row():
    empty = pd.DataFrame(columns=["environment", "architecture", "energy_per_image_j", "f1"])
    t = S.tradeoff_table(empty, subset="environment == cloud")
    assert len(t) == 1
    assert t[["analysis", "subset", "status", "note"]].iloc[0].tolist() == [
        "tradeoff",
        "environment == cloud",
        "skipped",
        "skipped: no runs",
    ]
    assert {"environment", "architecture"} <= set(t.columns)
    no_groups = S.tradeoff_table(pd.DataFrame({"energy_per_image_j": [1.0], "f1": [0.5]}))
    assert no_groups.analysis.tolist() == ["tradeoff"] and no_groups.status.tolist() == ["skipped"]
    assert no_groups.note.iloc[0] == "skipped: no grouping column among ['environment', 'architecture']"


# ----------------------------------------------------------------------------------------------
# the stats: configuration


SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
#: workflow/schemas/config.schema.yaml, stats: the properties and their defaults (ram and batch_input have none)
SCHEMA_DEFAULTS = {
    "p_adjust": "holm",
    "alpha": 0.05,
    "min_group_size": 3,
    "rq1_environment": "cloud",
    "rq2_architecture": "mobilenet_v2",
    "block1_exclude": {"architecture": ["inception_v3"]},
    "ram_column": "total_ram_gb",
    "bootstrap": {},
}
#: the keys the loader knows: the schema's (additionalProperties: false) plus the master seed that
#: workflow/rules/stats.smk adds to the section
KNOWN = sorted([*SCHEMA_DEFAULTS, "ram", "batch_input", "seed"])


def test_stats_config_defaults_are_the_schemas():
    for cfg in (S.StatsConfig.from_dict(None), S.StatsConfig.from_dict({})):
        for key, default in SCHEMA_DEFAULTS.items():
            assert getattr(cfg, key) == default, key
        assert cfg.p_adjust_name == "holm"


@pytest.mark.skipif(not SCHEMA.exists(), reason="no workflow/schemas (the mutmut scratch copy)")
def test_schema_stats_section_is_the_one_above():
    props = yaml.safe_load(SCHEMA.read_text())["properties"]["stats"]["properties"]
    assert {k: v["default"] for k, v in props.items() if "default" in v} == SCHEMA_DEFAULTS
    assert sorted([*props, "seed"]) == KNOWN == sorted(S.StatsConfig.__dataclass_fields__)


def test_stats_config_takes_config_yaml():
    cfg_yaml = yaml.safe_load((ROOT / "config.yaml").read_text())
    given = {**cfg_yaml["stats"], "seed": cfg_yaml["seed"]}
    snapshot = {k: (dict(v) if isinstance(v, dict) else v) for k, v in given.items()}
    cfg = S.StatsConfig.from_dict(given)
    for key, value in given.items():
        assert getattr(cfg, key) == value, key
    assert cfg.p_adjust_name == cfg_yaml["stats"]["p_adjust"]
    assert cfg.boot.n_resamples == cfg_yaml["stats"]["bootstrap"]["n_resamples"]
    assert given == snapshot  # the caller's dict is not changed


def test_stats_config_refuses_unknown_keys_naming_them():
    with pytest.raises(ValueError) as e:
        S.StatsConfig.from_dict({"p_adjust": "holm", "alpah": 0.1, "min_n": 3})
    assert str(e.value) == f"stats config: unknown key(s) ['alpah', 'min_n']; known: {KNOWN}"


@pytest.mark.parametrize("spelling", ["none", "None", "NONE", "null", "NULL", "Null", ""])
def test_stats_config_none_spellings_mean_no_adjustment(spelling):
    """Every spelling of "no adjustment" (schema: ``none``/null; YAML ``None``, ``""``) becomes None, so
    Dunn's adjusted p-values are the unadjusted ones (scikit-posthocs refuses the string "none")."""
    given = {"p_adjust": spelling}
    cfg = S.StatsConfig.from_dict(given)
    assert cfg.p_adjust is None and cfg.p_adjust_name == "none"
    assert given == {"p_adjust": spelling}
    df = pd.DataFrame({"v": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.5], "g": list("aaabbbccc")})
    r = S.kruskal_dunn(df, "v", "g", cfg.p_adjust)
    assert len(r.pairs) == 3
    assert (r.pairs.p_adjusted == r.pairs.p_unadjusted).all() and (r.pairs.p_adjust == "none").all()
