"""The paper's conclusions as a checklist (dlenergy.claims): every check type on small tables with a
known answer (holds, does not hold, not testable), the claims file's validation, robustness shares,
synthetic sources, and the verdicts of claims testable on the real SEAA 2023 logs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlenergy import claims as C
from dlenergy import stats as S


def write(tmp: Path, name: str, rows: list[dict]) -> None:
    (tmp / "tables").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(tmp / "tables" / f"{name}.csv", index=False)


@pytest.fixture
def res(tmp_path):
    """A results/<source> folder with small tables whose answers are known."""
    write(
        tmp_path,
        "trade",
        [
            {
                "env": "cloud",
                "arch": a,
                "energy": e,
                "energy_ci_low": e - 0.01,
                "energy_ci_high": e + 0.01,
                "f1": f,
                "status": "ok",
                "note": "",
            }
            for a, e, f in (("small", 0.10, 0.97), ("mid", 0.25, 0.98), ("big", 0.40, 0.99))
        ]
        + [
            {"env": "local", "arch": a, "energy": e, "f1": 0.9, "status": "ok", "note": ""}
            for a, e in (("small", 0.05), ("mid", 0.20), ("big", 0.45))
        ],
    )
    write(
        tmp_path,
        "kw",
        [
            {
                "variable": "energy",
                "groups": "small, mid, big",
                "p_value": 1e-9,
                "eta2": 0.9,
                "not_different": "mid – big; small – mid",
                "p_adjust": "holm",
                "status": "ok",
            }
        ],
    )
    write(
        tmp_path,
        "dunn",
        [
            {
                "variable": "energy",
                "group_a": "small",
                "group_b": "mid",
                "p_adjusted": 0.2,
                "p_adjust": "holm",
                "significant": False,
                "cliffs_delta": -0.3,
                "cliffs_delta_ci_low": -0.6,
                "cliffs_delta_ci_high": 0.1,
            },
            {
                "variable": "energy",
                "group_a": "small",
                "group_b": "big",
                "p_adjusted": 1e-5,
                "p_adjust": "holm",
                "significant": True,
                "cliffs_delta": -1.0,
                "cliffs_delta_ci_low": -1.0,
                "cliffs_delta_ci_high": -1.0,
            },
        ],
    )
    write(
        tmp_path,
        "bi",
        [
            {"env": "e", "img": img, "batch": b, "energy": 100 * img / b, "status": "ok"}
            for img in (75, 128)
            for b in (32, 256)
        ],
    )
    write(tmp_path, "skipped", [{"analysis": "x", "status": "skipped", "note": "skipped: no allocated-RAM experiment"}])
    return tmp_path


def run(res, **check):
    return C.run_check(check, C.Tables(res / "tables"))


# ------------------------------------------------------------------------------------------------
# each check type: holds, does not hold, not testable


def test_value(res):
    base = dict(type="value", table="trade", where={"env": "cloud"}, column="energy")
    assert run(res, **base, op="<=", threshold=0.40).state == C.HOLDS
    out = run(res, **base, op="<", threshold=0.40)
    assert out.state == C.FAILS and "big: 0.4 [CI 0.39, 0.41]" in out.evidence
    assert run(res, **base, op="<", threshold=0.38, tolerance=0.03).state == C.HOLDS  # 0.40 - 0.03 < 0.38
    assert run(res, **base, op="between", threshold=[0.1, 0.4]).state == C.HOLDS
    assert run(res, **base, op="between", threshold=[0.11, 0.4]).state == C.FAILS
    # text and booleans compare as text
    assert (
        run(
            res, type="value", table="dunn", where={"group_b": "big"}, column="significant", op="==", threshold=True
        ).state
        == C.HOLDS
    )
    # one column against another of the same row: energy >= 0.1 x f1 everywhere, not >= 0.2 x f1
    assert run(res, **base, op=">=", column_b="f1", factor=0.1).state == C.HOLDS
    assert run(res, **base, op=">=", column_b="f1", factor=0.2).state == C.FAILS
    # a row count the claim needs
    assert run(res, **base, op=">", threshold=0, n_rows=4).state == C.FAILS
    nt = run(res, **base, op=">", threshold=0, require={"arch": ["small", "huge"]})
    assert nt.state == C.UNTESTABLE and "no arch = huge" in nt.reason and "present: big, mid, small" in nt.reason


def test_approx_tolerance_and_ci(res):
    base = dict(type="approx", table="trade", where={"env": "cloud", "arch": "mid"}, column="energy")
    assert run(res, **base, paper=0.26, tolerance={"relative": 0.05}).state == C.HOLDS  # |0.25/0.26 - 1| = 3.8 %
    assert run(res, **base, paper=0.28, tolerance={"relative": 0.05}, ci=False).state == C.FAILS
    out = run(res, **base, paper=0.259, tolerance={"absolute": 0.001})  # outside the tolerance, inside the CI
    assert out.state == C.HOLDS and "outside the tolerance" in out.evidence and "inside the CI" in out.evidence
    assert run(res, **base, paper=0.259, tolerance={"absolute": 0.001}, ci=False).state == C.FAILS
    # no CI columns on the local rows
    assert (
        run(res, **{**base, "where": {"env": "local", "arch": "mid"}}, paper=0.209, tolerance={"absolute": 0.001}).state
        == C.FAILS
    )


def test_extreme_and_order(res):
    base = dict(type="extreme", table="trade", where={"env": "cloud"}, key="arch", column="energy")
    assert run(res, **base, extreme="max", expected="big").state == C.HOLDS
    assert run(res, **base, extreme="min", expected="mid").state == C.FAILS
    nt = run(res, **base, extreme="max", expected="big", require={"arch": ["huge"]})
    assert nt.state == C.UNTESTABLE
    order = dict(type="order", table="trade", where={"env": "cloud"}, key="arch", column="energy")
    assert run(res, **order, order=["big", "mid", "small"], direction="descending").state == C.HOLDS
    assert run(res, **order, order=["small", "big", "mid"], direction="ascending").state == C.FAILS
    assert run(res, **order, order=["big", "huge"], direction="descending").state == C.UNTESTABLE


def test_compare_and_compare_groups(res):
    base = dict(type="compare", table="trade", column="energy", a={"env": "cloud", "arch": "big"})
    assert run(res, **base, b={"env": "cloud", "arch": "small"}, op=">", factor=3.9).state == C.HOLDS
    assert run(res, **base, b={"env": "cloud", "arch": "small"}, op=">", factor=4.1).state == C.FAILS
    # cloud < local exactly for "big" (0.40 < 0.45); for small and mid local is cheaper
    grp = dict(
        type="compare_groups", table="trade", per="arch", key="env", column="energy", a="cloud", b="local", op="<"
    )
    assert run(res, **grp, expected=["big"]).state == C.HOLDS
    assert run(res, **grp, expected=["big", "mid"]).state == C.FAILS
    assert run(res, **{**grp, "b": "mars"}, expected=["big"]).state == C.UNTESTABLE


def test_pair_set_and_dunn_pair(res):
    ps = dict(type="pair_set", table="kw", where={"variable": "energy"})
    assert run(res, **ps, expected="big-mid; mid-small", mode="equal").state == C.HOLDS
    assert run(res, **ps, expected="big-mid", mode="equal").state == C.FAILS
    assert run(res, **ps, expected="big-mid", mode="includes").state == C.HOLDS
    assert run(res, **ps, expected="big-small", mode="excludes").state == C.HOLDS
    assert run(res, **ps, expected="big-mid", mode="excludes").state == C.FAILS
    nt = run(res, **ps, expected="", mode="equal", require_groups=["small", "huge"])
    assert nt.state == C.UNTESTABLE and "needs huge" in nt.reason
    dp = dict(type="dunn_pair", table="dunn", where={"variable": "energy"})
    out = run(res, **dp, pair=["big", "small"], significant=True)  # either order
    assert out.state == C.HOLDS and "Cliff's δ(small, big) = -1 [CI -1, -1]" in out.evidence
    assert run(res, **dp, pair=["small", "mid"], significant=True).state == C.FAILS
    assert run(res, **dp, pair=["mid", "big"], significant=False).state == C.UNTESTABLE


def test_monotone(res):
    base = dict(type="monotone", table="bi", y="energy")
    assert run(res, **base, x="batch", by=["env", "img"], direction="decreasing").state == C.HOLDS
    assert run(res, **base, x="img", by=["env", "batch"], direction="increasing").state == C.HOLDS
    out = run(res, **base, x="img", by=["env", "batch"], direction="decreasing")
    assert out.state == C.FAILS and "0 of 2" in out.evidence
    assert run(res, **base, x="img", by=["env", "img"], direction="increasing").state == C.UNTESTABLE


def test_all_and_skipped_and_missing_tables(res):
    ok = dict(type="value", table="trade", where={"env": "cloud"}, column="energy", op=">", threshold=0)
    bad = {**ok, "op": "<"}
    skipped = dict(type="value", table="skipped", column="x", op=">", threshold=0)
    assert run(res, type="all", checks=[ok, ok]).state == C.HOLDS
    assert run(res, type="all", checks=[ok, bad]).state == C.FAILS
    # a failing part decides even when another part is not testable
    assert run(res, type="all", checks=[bad, skipped]).state == C.FAILS
    out = run(res, type="all", checks=[ok, skipped])
    assert out.state == C.UNTESTABLE and out.reason == "skipped.csv is skipped: no allocated-RAM experiment"
    assert run(res, **{**ok, "table": "absent"}).reason == "absent.csv was not produced for this source"
    row = run(res, **{**ok, "where": {"env": "mars"}})
    assert row.state == C.UNTESTABLE and "no row with env = mars in trade.csv (present: cloud, local)" == row.reason


# ------------------------------------------------------------------------------------------------
# the claims file and the checklist


def test_package_claims_are_valid_and_cover_the_sections():
    claims = C.load_claims()
    assert len(claims) >= 20 and len({c["id"] for c in claims}) == len(claims)
    sections = " ".join(c["section"] for c in claims)
    for s in ("§4.1", "§4.2", "§4.3", "§5"):
        assert s in sections
    assert C.tables_of(claims) >= {"tradeoff", "reductions", "kruskal_dunn_rq1", "table10_test_rmse"}


@pytest.mark.parametrize(
    "text, message",
    [
        ("claims:\n  - {id: a, section: s, claim: c}\n", "line 2, claim a: lacks check"),
        ("claims:\n  - {id: a, section: s, claim: c, check: {type: guess}}\n", "check type 'guess' is not one of"),
        (
            "claims:\n  - {id: a, section: s, claim: c, check: {type: extreme, table: t}}\n",
            "check 'extreme' lacks key, column, extreme, expected",
        ),
        (
            "claims:\n  - {id: a, section: s, claim: c, check: {type: value, table: t, column: x, op: '<'}}\n",
            "needs a threshold or a column_b",
        ),
        (
            "claims:\n  - {id: a, section: s, claim: c, check: {type: value, table: t, column: x, op: '~', threshold: 1}}\n",
            "op '~' is not one of",
        ),
        (
            "claims:\n  - {id: a, section: s, claim: c, check: {type: value, table: t, column: x, op: '<', threshold: 1}}\n"
            "  - {id: a, section: s, claim: d, check: {type: value, table: t, column: x, op: '<', threshold: 2}}\n",
            "line 3, claim a: duplicate id 'a'",
        ),
        ("other: 1\n", "no 'claims:' list"),
    ],
)
def test_bad_claims_file_names_file_line_and_claim(tmp_path, text, message):
    p = tmp_path / "claims.yaml"
    p.write_text(text)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        C.load_claims(p)
    assert str(p) in str(e.value)


def test_evaluate_synthetic_robustness_and_markdown(res):
    claims = [
        {
            "id": "c1",
            "section": "§4.1",
            "claim": "big is the most expensive",
            "robustness": ["k.big", "k.none"],
            "check": {
                "type": "extreme",
                "table": "trade",
                "where": {"env": "cloud"},
                "key": "arch",
                "column": "energy",
                "extreme": "max",
                "expected": "big",
            },
        },
        {
            "id": "c2",
            "section": "§4.3",
            "claim": "RAM matters",
            "check": {"type": "value", "table": "skipped", "column": "p", "op": "<", "threshold": 0.05},
        },
    ]
    card = C.evaluate(res, claims)
    assert list(card.columns) == C.COLUMNS
    assert list(card.verdict) == [C.HOLDS, C.UNTESTABLE] and "robustness" not in card.evidence.iloc[0]
    assert card.evidence.iloc[1] == "skipped.csv is skipped: no allocated-RAM experiment"
    write(
        res,
        "robustness",
        [
            {"statistic": "k.big", "variant": v, "n_seeds": n, "conclusion": "big is max", "share_conclusion_holds": s}
            for v, n, s in (("none", 1, 1.0), ("configured", 100, 0.87))
        ],
    )
    ev = C.evaluate(res, claims).evidence.iloc[0]
    assert (
        "outlier seeds (robustness.csv): k.big 'big is max' holds for configured 87 % of 100 seed(s), "
        "none 100 % of 1 seed(s); k.none: not in robustness.csv"
    ) in ev
    syn = C.evaluate(res, claims, synthetic=True)
    assert set(syn.verdict) == {C.SYNTHETIC}
    assert syn.evidence.iloc[0].startswith("(on real data this would read: holds) trade.csv [env=cloud]")
    md = C.to_markdown(card, "tiny", "synthetic sample")
    assert "Claims: 2. holds: 1, not testable with this data: 1" in md and "## c1 (§4.1): holds" in md
    assert "SYNTHETIC DATA" not in md and "SYNTHETIC DATA" in C.to_markdown(syn, "tiny", "synthetic sample")


# ------------------------------------------------------------------------------------------------
# the real SEAA 2023 logs


@pytest.fixture(scope="module")
def seaa_results(tmp_path_factory, seaa_dir):
    """The stats tables of the real SEAA 2023 logs (the copy shipped in data/seaa2023), built with the
    library (config as config.yaml)."""
    from dlenergy.cleaning import CleaningConfig, clean
    from dlenergy.ingest import ingest_dataset
    from dlenergy.sources.seaa2023 import convert_seaa2023

    root = tmp_path_factory.mktemp("seaa_claims")
    convert_seaa2023(seaa_dir, root / "canonical")
    runs = clean(*ingest_dataset(root / "canonical"), CleaningConfig(seed=42)).runs
    cfg = S.StatsConfig(p_adjust="bonferroni", bootstrap={"n_resamples": 999})
    for f in (S.rq1_tables, S.rq2_tables, S.tradeoff_tables, S.ram_tables, S.batch_input_tables):
        for name, df in f(runs, cfg).items():
            write(root, name, df.to_dict("records"))
    return root


def test_seaa2023_verdicts(seaa_results):
    card = C.evaluate(seaa_results).set_index("claim_id")
    verdict = card["verdict"]
    # hold on the real data (paper: VGG16 0.39 J/image; 43.6 %; 80.72 % with F1 -1.34 %; Dunn on time)
    for cid in (
        "rq1_energy_vgg16_most",
        "rq2_local_ml_reduction",
        "s51_best_combination",
        "rq1_time_dunn",
        "s51_cloud_best_only_for_vgg16",
        "rq22_energy_cloud_moderate",
    ):
        assert verdict[cid] == C.HOLDS, (cid, card.loc[cid, "evidence"])
    # does not hold: Dunn also finds MobileNet V2 - ResNet50 not different in energy
    assert verdict["rq1_energy_dunn"] == C.FAILS
    assert "mobilenet_v2-resnet50; nasnet_mobile-xception" in card.loc["rq1_energy_dunn", "evidence"]
    # not testable, and why: no Local Normal User runs, no RAM experiment, no Inception V3
    assert verdict["rq2_local_normal_reduction"] == C.UNTESTABLE
    assert "to = local_normal_user" in card.loc["rq2_local_normal_reduction", "evidence"]
    assert (
        "table7_kruskal_ram.csv is skipped: no runs with environment == 'cloud'; architecture == 'inception_v3'"
        in card.loc["rq31_ram_energy_significant", "evidence"]
    )
    assert verdict["rq33_online_epoch_energy_lowest"] == C.UNTESTABLE
    # the evidence quotes the table's own number and CI
    red = (
        pd.read_csv(seaa_results / "tables" / "reductions.csv")
        .query("scope == 'environments for mobilenet_v2' and `from` == 'cloud' and to == 'local_ml_engineer'")
        .iloc[0]
    )
    ev = card.loc["rq2_local_ml_reduction", "evidence"]
    assert f"reduction = {red.reduction:.4g} [CI {red.reduction_ci_low:.4g}, {red.reduction_ci_high:.4g}]" in ev
    assert np.isclose(red.reduction, 0.436, rtol=0.05)
