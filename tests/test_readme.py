"""The README's code examples run as written."""
import importlib.util
import re
from pathlib import Path

from attnxfer_core.experiments.study import Study
from attnxfer_core.experiments.validation import validate_runs

README = Path(__file__).resolve().parent.parent / "README.md"


def _block_after(marker: str) -> str:
    text = README.read_text()
    start = text.index(marker)
    match = re.search(r"```python\n(.*?)```", text[start:], re.S)
    assert match, marker
    return match.group(1)


def test_public_api_example_runs():
    exec(compile(_block_after("## Public API"), "README-api", "exec"), {})


def test_adding_a_study_example_is_a_valid_study(tmp_path):
    path = tmp_path / "last_layer.py"
    path.write_text(_block_after("### Adding a study"))
    spec = importlib.util.spec_from_file_location("last_layer_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    study = module.STUDY
    assert isinstance(study, Study)
    for scale in ("embedded", "paper"):
        runs = study.expand(scale)
        validate_runs(study, runs, scale)  # names (claims, figures) as well as runs
        assert len([r for r in runs if r.role == "run"]) == 3 * study.seeds[scale]


def test_every_command_line_in_the_readme_parses():
    """Overrides must come before options: a README line that argparse refuses fails here, not for a reader."""
    import shlex

    import pytest

    from attnxfer_core.cli import build_parser

    lines = [line.split("#")[0].strip() for block in re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)
             for line in block.splitlines() if line.strip().startswith(".venv/bin/attnxfer ")]
    checked = 0
    for line in lines:
        if "[" in line:  # a usage pattern ("[STUDY ...]"), not a command
            continue
        try:
            build_parser().parse_args(shlex.split(line)[1:])
        except SystemExit:
            pytest.fail(f"README command does not parse: {line}")
        checked += 1
    assert checked >= 10  # the README holds 14 today: finding none would mean the pattern broke


def test_the_readmes_main_result_table_is_the_committed_result():
    """The per-seed table under "What to expect" is typed by hand: it must say what results/embedded/main.json says."""
    import json

    committed = json.loads((README.parent / "results/embedded/main.json").read_text())
    top1 = {(r["seed"], r["method"]): r["top1"] for r in committed["runs"]}
    text = README.read_text()
    section = text[text.index("**The result: all ten seeds**"):text.index("**What changed from five seeds to ten.**")]
    rows = re.findall(r"^\| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", section, re.M)
    methods = ("scratch", "finetune", "copy", "distill")
    assert {int(r[0]) for r in rows} == {seed for seed, _ in top1}
    for seed, *values in rows:
        for method, value in zip(methods, values):
            assert f"{top1[(int(seed), method)]:.2f}" == value, (seed, method)
    spread = re.search(r"^\| mean ± sd \| (.*) \|$", section, re.M).group(1).split(" | ")
    table = {row["method"]: row for row in committed["table"]}
    for method, cell in zip(methods, spread):
        assert cell == f"{table[method]['top1_mean']:.2f} ± {table[method]['top1_sd']:.2f}", method
