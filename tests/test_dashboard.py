"""The committed results' dashboard as a researcher opens it: the forest plot of every claim, its filters,
the light index and the study pages, in headless Chromium; and byte-identical regeneration."""
import hashlib
import os
from pathlib import Path

import pytest

from analysis.dashboard import write_dashboard
from analysis.study_data import load_study_data
from analysis.verdicts import verdicts
from studies import load_studies

RESULTS = Path(__file__).resolve().parent.parent / "results"


def _build(tmp_path):
    return write_dashboard(list(load_studies().values()), RESULTS / "tables", tmp_path / "figures",
                           tmp_path / "dashboard")


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _claims():
    datas = [d for s in load_studies().values() if (d := load_study_data(s, RESULTS / "tables")) is not None]
    return verdicts(datas)


def test_the_dashboard_and_its_forest_figure_regenerate_byte_for_byte(tmp_path):
    index = _build(tmp_path)
    first = {**_digest(tmp_path / "dashboard"), **_digest(tmp_path / "figures")}
    assert index.stat().st_size < 1_000_000  # the index stays light: runs and studies have their own pages
    assert {"claims.png", "claims.pdf"} <= set(_digest(tmp_path / "figures"))
    _build(tmp_path)
    assert {**_digest(tmp_path / "dashboard"), **_digest(tmp_path / "figures")} == first
    html = index.read_text()
    assert html.count('<g class="claim"') == len(_claims())


@pytest.mark.skipif(not Path("/usr/bin/chromedriver").exists(), reason="Debian's chromium-driver is not installed")
def test_every_claim_is_in_the_forest_once_and_the_filters_work(tmp_path):
    from .webdriver import Browser

    index = _build(tmp_path)
    claims = _claims()
    browser = Browser(tmp_path / "profile", width=1400)
    try:
        browser.open(index.as_uri())
        shown = browser.run("""
            return Array.prototype.map.call(document.querySelectorAll('svg#forest g.claim'), function(g){
              return [g.getAttribute('data-study'), g.querySelector('title').textContent.split('\\n')[0]]; });""")
        expected = sorted(f"{v.study}: {v.claim}" for v in claims)
        assert sorted(title for _, title in shown) == expected  # every registered claim, once
        visible = browser.run("""
            var s = document.querySelector('select.facet[data-key=study]'); s.value = 'main';
            s.dispatchEvent(new Event('change'));
            function shown(q){ return Array.prototype.filter.call(document.querySelectorAll(q),
              function(e){ return e.style.display !== 'none'; }).length; }
            return [shown('svg#forest g.claim'), shown('#verdicts tbody tr')];""")
        mains = sum(v.study == "main" for v in claims)
        assert visible == [mains, mains]
        width = browser.run("return document.getElementById('forest').getBoundingClientRect().width;")
        assert 1000 < width <= 1400  # readable at 1400 px
        sideways = "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
        assert browser.run(sideways) == 0  # wide tables scroll in their own box, never the page
        assert [e for e in browser.console() if e.get("level") == "SEVERE"] == []
        browser.run("var s = document.querySelector('select.facet[data-key=study]'); s.value = '';"
                    "s.dispatchEvent(new Event('change'));")
        shot = browser.screenshot(Path(os.environ.get("ATTNXFER_ARTIFACTS", tmp_path)) / "forest.png")
        assert shot.stat().st_size > 10_000
        browser.open((tmp_path / "dashboard" / "studies" / "main.html").as_uri())
        assert browser.run("return document.getElementById('agg-main').tBodies[0].rows.length;") > 0
        assert browser.run(sideways) == 0
    finally:
        browser.close()
