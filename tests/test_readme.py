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
