"""The stats tables' documented columns, spelled out once for the tests (a renamed or reordered column
in ``dlenergy.stats`` fails them; they are not imported from the code under test)."""

NORMALITY = [
    "analysis", "subset", "variable", "group_by", "group", "n", "shapiro_w", "shapiro_p", "normal",
    "levene_w", "levene_p", "equal_variances", "levene_k", "status", "note",
]  # fmt: skip

KRUSKAL = [
    "analysis", "subset", "variable", "group_by", "n", "k", "H", "p_value", "eta2", "significant",
    "p_adjust", "alpha", "groups", "not_different", "status", "note",
]  # fmt: skip

PAIRS = [
    "analysis", "subset", "variable", "group_by", "group_a", "group_b", "n_a", "n_b", "median_a",
    "median_b", "dunn_z", "p_unadjusted", "p_adjusted", "p_adjust", "significant", "cliffs_delta",
    "cliffs_delta_ci_low", "cliffs_delta_ci_high", "status", "note", "ci_note",
]  # fmt: skip

SPEARMAN = [
    "analysis", "subset", "by", "x", "y", "n", "rho", "rho_ci_low", "rho_ci_high", "p_value",
    "alternative", "significant", "strength", "status", "note", "ci_note",
]  # fmt: skip
