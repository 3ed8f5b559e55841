"""results/README.md is generated (attnxfer report) from the committed tables, never typed by hand."""
import dataclasses
from pathlib import Path

from analysis.report import _provenance_lines, report_text
from analysis.study_data import load_study_data
from analysis.verdicts import study_verdicts
from attnxfer_core.cli import main
from studies import get_study, load_studies

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"


def test_the_committed_results_page_regenerates_byte_for_byte(tmp_path, capsys):
    out = tmp_path / "README.md"
    assert main(["report", "--tables", str(RESULTS / "tables"), "--figures", str(RESULTS / "figures"),
                 "--out", str(out)]) == 0
    assert out.read_bytes() == (RESULTS / "README.md").read_bytes(), \
        "results/README.md is stale: run `attnxfer report` after committing tables"
    assert main(["report", "--tables", str(RESULTS / "tables"), "--figures", str(RESULTS / "figures"),
                 "--out", str(tmp_path / "again.md")]) == 0
    assert (tmp_path / "again.md").read_bytes() == out.read_bytes()


def test_every_study_has_a_section_and_every_verdict_its_row():
    text = (RESULTS / "README.md").read_text()
    for study in load_studies().values():
        assert f"\n## {study.name}: " in text, study.name
        data = load_study_data(study, RESULTS / "tables")
        if data is None:
            continue
        section = text[text.index(f"\n## {study.name}: "):]
        section = section[:section.index("\n## ", 1)]
        for v in study_verdicts(data):
            assert f"| {v.claim.replace('|', chr(92) + '|')} | **{v.verdict}** |" in section, (study.name, v.claim)


def test_a_study_without_tables_says_what_would_make_them(tmp_path):
    text = report_text([get_study("qkv")], tmp_path, tmp_path)
    assert "No results committed yet: `attnxfer run qkv`, then `attnxfer collect qkv`." in text
    assert "studies/qkv.protocol.md" in text


def test_the_provenance_line_names_the_cpus_vector_isa_and_says_when_a_table_mixes_them():
    data = load_study_data(get_study("robustness"), RESULTS / "tables")
    assert "cpu" in _provenance_lines(data)[0] and "ISA" not in _provenance_lines(data)[0]  # not yet recorded
    status = data.status.copy()
    status["cpu_isa"] = "AVX512"
    assert "trained on cpu (AVX512)" in _provenance_lines(dataclasses.replace(data, status=status))[0]
    status.loc[status.index[0], "cpu_isa"] = "AVX2"
    assert "cpu (mixed vector ISAs: AVX2, AVX512)" in _provenance_lines(dataclasses.replace(data, status=status))[0]
