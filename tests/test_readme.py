"""The README's two commands and CI's script stay in step."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands():
    text = (ROOT / "README.md").read_text()
    blocks = text.split("```bash\n")[1:3]
    return [b.split("\n```")[0].strip() for b in blocks]


def test_ci_runs_the_readme_test_command_verbatim():
    main_cmd, test_cmd = _commands()
    ci_lines = [l.strip() for l in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_cmd in ci_lines
    assert "pytest" in test_cmd and "snakemake --cores 8" in main_cmd
    for cmd in (main_cmd, test_cmd):
        assert cmd.startswith("python3.11 -m venv .venv") and 'pip install -q -e ".[pipeline,test]"' in cmd


def _readme_command(prefix: str) -> list[str]:
    """The README's example command that starts with ``prefix`` (in backticks), split like a shell."""
    import re
    import shlex

    text = (ROOT / "README.md").read_text()
    match = re.search(r"`(" + re.escape(prefix) + r"[^`]*)`", text)
    assert match, f"no `{prefix} ...` example in the README"
    return shlex.split(match.group(1))[1:]


def test_readme_estimate_example_works_with_the_real_seaa_power_model(seaa_dir, tmp_path, monkeypatch):
    """The README's `dlenergy estimate` example, as written, against the power model the pipeline fits on
    the real SEAA 2023 logs (its 70 % training split: the domain the CLI checks inputs against)."""
    import yaml
    from typer.testing import CliRunner

    from dlenergy.cleaning import CleaningConfig, clean
    from dlenergy.cli import app
    from dlenergy.estimators import OfflinePowerEstimator
    from dlenergy.estimators.evaluate import split_runs
    from dlenergy.ingest import ingest_dataset
    from dlenergy.sources.seaa2023 import convert_seaa2023

    seed = int(yaml.safe_load((ROOT / "config.yaml").read_text())["seed"])
    convert_seaa2023(seaa_dir, tmp_path / "canonical")
    runs = clean(*ingest_dataset(tmp_path / "canonical"), CleaningConfig(seed=seed)).runs
    split = split_runs(runs, test_size=0.3, seed=seed)
    train = runs[runs["run_id"].isin(split.loc[split["split"] == "train", "run_id"])].reset_index(drop=True)
    models = tmp_path / "results" / "seaa2023" / "models"
    est = OfflinePowerEstimator(models=("ridge",), n_iter=2, random_state=seed).fit(train, train["energy_j"])
    est.save(models, source="seaa2023", data_label="SEAA 2023 measurements", data_kind="real")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, _readme_command("dlenergy estimate"))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("Model fitted on REAL measurements: seaa2023")
    assert "Offline energy estimate" in result.output
