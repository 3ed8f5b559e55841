"""The README's and the docs' code examples and commands run as written, and the README stays short."""
import importlib.util
import json
import re
from pathlib import Path

import pytest

from attnxfer_core.experiments.study import Study
from attnxfer_core.experiments.validation import validate_runs

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
# Every page whose shell blocks show commands: the README and the pages it sends readers to.
PAGES = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "results" / "perf" / "README.md"]
# Commands that only read: the test runs each one the pages show, as shown.
READ_ONLY = ("studies", "plan", "verdicts", "power", "register", "status")


def _commands(pages=PAGES) -> list[str]:
    return [line.split("#")[0].strip() for page in pages
            for block in re.findall(r"```bash\n(.*?)```", page.read_text(), re.S)
            for line in block.splitlines() if line.strip().startswith(".venv/bin/attnxfer ")]


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


def test_every_command_line_in_the_docs_parses():
    """Overrides must come before options: a line that argparse refuses fails here, not for a reader."""
    import shlex

    import pytest

    from attnxfer_core.cli import build_parser

    checked = 0
    for line in _commands():
        if "[" in line:  # a usage pattern ("[STUDY ...]"), not a command
            continue
        try:
            build_parser().parse_args(shlex.split(line)[1:])
        except SystemExit:
            pytest.fail(f"documented command does not parse: {line}")
        checked += 1
    assert checked >= 30  # the pages hold 40 today: finding few would mean the pattern broke


def test_the_read_only_commands_of_every_page_run_as_shown(capsys, monkeypatch):
    """What a reader types first works: each command of the README and the docs that only reads (paper-scale
    plans and status included: they read no data) runs and exits 0. Commands that train, submit or write
    results are parsed above and exercised by their own tests (test_demo, test_submit, test_slurm_cluster,
    test_report, test_dashboard, test_carried); the one-run ``train`` line runs below."""
    import shlex

    from attnxfer_core.cli import main

    monkeypatch.chdir(ROOT)
    ran = []
    for line in _commands():
        argv = shlex.split(line)[1:]
        if "[" not in line and argv[0] in READ_ONLY and "--write" not in argv and argv[1:2] != ["STUDY"]:
            assert main(argv) == 0, line
            ran.append(argv[0])
    capsys.readouterr()
    assert set(ran) == set(READ_ONLY) and len(ran) >= 10


@pytest.mark.slow
def test_the_documented_single_run_trains_as_shown(tmp_path, monkeypatch, capsys):
    """The README's first run as printed, in a fresh folder (its runs root is ./runs there), on a subset of
    the data: the full line trains for minutes, too long for every CI run; its overrides are the README's."""
    import shlex

    from attnxfer_core.cli import main

    line = next(line for line in _commands([README]) if shlex.split(line)[1] == "train")
    shrink = ["data.train_subset=600", "data.eval_subset=200"]
    assert "subset" not in line  # the shrinking overrides would otherwise replace the README's
    monkeypatch.chdir(tmp_path)
    assert main(shlex.split(line)[1:] + shrink) == 0, line
    assert "top1" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_the_readme_is_short_and_its_links_resolve():
    text = README.read_text()
    assert text.count("\n") <= 300
    for page in PAGES + [ROOT / "results" / "README.md"]:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target:
                assert (page.parent / target).exists(), (page.name, target)
