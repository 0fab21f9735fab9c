"""The README's examples run, and its set-up commands name what the project provides."""

import re
import tomllib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_python_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert len(blocks) == 2
    first = {}
    exec(blocks[0], first)
    model, x = first["model"], first["x"]
    assert model.predict(x[:4], verbose=0).shape == (4, 1)
    second = {}
    exec(blocks[1], second)
    assert second["batch_x"].shape == (32, 32, 32, 3) and second["batch_x"].dtype == np.float32
    assert second["batch_x"].min() >= 0 and second["batch_x"].max() <= 1


def test_readme_commands_match_the_project_files():
    commands = re.findall(r"```bash\n(.*?)```", README, re.S)
    assert [c.strip() for c in commands] == [
        "pip install . && fastkeras-augment", 'pip install -e ".[test]" && pytest']
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["fastkeras-augment"] == "fastkeras.cli:main"
    assert "test" in project["optional-dependencies"]
    assert 'pip install -e ".[docs]" && mkdocs build --strict' in README
    assert "mkdocs" in " ".join(project["optional-dependencies"]["docs"])
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install --quiet -e ".[test]"' in ci and "pytest" in ci
