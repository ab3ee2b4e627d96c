"""The README's promises: its first two commands, and its Python loading example runs."""

from __future__ import annotations

import re

from tests.conftest import REPO


def test_readme_opens_with_demo_and_test_commands_and_ci_runs_the_test_one():
    text = (REPO / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    assert "make test" in (REPO / ".ci" / "run").read_text()
    makefile = (REPO / "Makefile").read_text()
    assert "torch==2.13.0" in makefile
    assert makefile.index("torch==2.13.0") < makefile.index("-e '.[dev]'")


def test_readme_loading_example_runs(tmp_path, monkeypatch):
    from climb import demo_data
    from climb.store.prepare import prepare

    for name in ("demo_mitbih_beats", "demo_eeg_eyes"):
        prepare(name, demo_data.path(name), tmp_path / "store", workers=1, progress=False)
    text = (REPO / "README.md").read_text()
    code = re.search(r"```python\n(from torch.utils.data import DataLoader.*?)```", text, re.S)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code.group(1), "README.md", "exec"), scope)
    batch = scope["batch"]
    assert set(batch["inputs"]) == {"ecg", "eeg", "tabular"}
    assert set(batch["labels"]) == {"demo_mitbih_beats.beat", "demo_eeg_eyes.eyes"}
    assert batch["input_mask"]["ecg"].sum() + batch["input_mask"]["eeg"].sum() == 64
