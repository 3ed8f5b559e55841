"""Every registered protocol file still says what the code would do: its procedure, claims and runs.

A protocol is registered by committing the file ``attnxfer register`` writes. If a recipe, a claim or the
decision procedure changes afterwards, this test fails: the study must be registered again (a new commit,
before new runs), never the file edited to match.
"""
import json
import re
from pathlib import Path

import pytest

from analysis.registration import POWER_HEADING, RUNS_HEADING, decision_section, registered_runs
from attnxfer_core.cli import main as cli
from studies import load_studies

ROOT = Path(__file__).resolve().parent.parent
REGISTERED = [s for s in load_studies().values() if s.protocol is not None and not s.protocol.hand_written]


def test_some_studies_are_registered_and_their_files_are_where_they_say():
    assert REGISTERED
    for study in REGISTERED:
        assert study.protocol.file == f"studies/{study.name}.protocol.md"
        assert (ROOT / study.protocol.file).exists(), f"{study.name}: run attnxfer register {study.name} --write"


@pytest.mark.parametrize("study", REGISTERED, ids=lambda s: s.name)
def test_the_protocol_file_matches_the_study(study):
    text = (ROOT / study.protocol.file).read_text()
    assert decision_section(study, "embedded") in text
    assert study.protocol.rationale.strip() in text
    blocks = re.findall(r"```json\n(.*?)```", text.split(RUNS_HEADING, 1)[1], re.S)
    assert len(blocks) == 1 and json.loads(blocks[0]) == registered_runs(study, "embedded")
    assert POWER_HEADING in text
    assert study.protocol.looks == () or study.seeds["embedded"] == study.protocol.looks[0]


def test_register_prints_and_never_overwrites_a_registered_file(tmp_path, monkeypatch, capsys):
    study = REGISTERED[0]
    assert cli(["register", study.name, "--tables", ""]) == 0
    assert "## Decision procedure" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    (tmp_path / "studies").mkdir()
    (tmp_path / study.protocol.file).write_text("registered earlier\n")
    assert cli(["register", study.name, "--tables", "", "--write"]) == 2
    assert "is not rewritten" in capsys.readouterr().err
    assert (tmp_path / study.protocol.file).read_text() == "registered earlier\n"
    assert cli(["register", "main", "--tables", ""]) == 2  # main's protocol is hand-written, not rendered
    assert "written by hand" in capsys.readouterr().err


def test_power_prints_each_claims_seeds_from_committed_tables(capsys):
    assert cli(["power", "main", "--tables", str(ROOT / "results" / "tables")]) == 0
    out = capsys.readouterr().out
    assert sum(line.startswith("| ") for line in out.splitlines()) == 1 + 7  # the header, a row per claim
    assert cli(["power", "main", "--tables", str(ROOT / "nowhere")]) == 2
    assert "--tables" in capsys.readouterr().err
