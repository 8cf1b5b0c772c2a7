"""The docs tell one story: the README's comparison and both results tables are the generated ones, and the README's
other numbers and the configs' expected results are on a results page."""

import importlib
import json
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..")
sys.path.insert(0, os.path.join(ROOT, "experiments"))
import compare  # noqa: E402
import paper_table  # noqa: E402
from dbc_jax.tasks import TASKS  # noqa: E402

NUMBER = r"[−-]?\d+(?:\.\d+)? ± \d+(?:\.\d+)?|[−-]?\d+(?:\.\d+)? \[[−-]?\d+(?:\.\d+)?, [−-]?\d+(?:\.\d+)?\]"


def _read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def _results_pages():
    return _read("docs/results.md") + _read("docs/paper_table_quick.md") + _read("docs/compare_quick.md")


def _results_section():
    return _read("README.md").split("## Results", 1)[1].split("\n## ", 1)[0]


def test_the_paper_protocol_table_is_complete_and_generated():
    table = json.loads(_read("docs/paper_table_quick.json"))
    assert table["missing"] == [] and table["unavailable"] == []
    assert len(table["cells"]) == 9 * 4  # Maze, HalfCheetah, Walker2d on both data; FetchPick, HandRotate, AntReach
    assert _read("docs/paper_table_quick.md") == paper_table.markdown(table)  # the page is not edited by hand


def test_the_readme_leads_with_the_generated_comparison():
    """The README's block and the comparison page are the JSON's; every cell of the nine rows is there or listed
    with its reason, with its runs as asked (10, Implicit BC 5) or marked."""
    table = json.loads(_read("docs/compare_quick.json"))
    listed = {(c["task"], c["data"], c["method"]) for c in table["cells"] + table["missing"]}
    assert len(listed) == 9 * 4 and all(m["reason"] for m in table["missing"])
    assert all(len(c["runs"]) == c["runs_asked"] or (c["task"], c["data"], c["method"]) in {
        (m["task"], m["data"], m["method"]) for m in table["missing"]} for c in table["cells"])  # partial: listed
    assert table["runs_asked"] == {"dbc": 10, "bc": 10, "dp": 10, "ibc": 5}
    assert all(c["runs_asked"] == table["runs_asked"][c["method"]] for c in table["cells"])
    block = _results_section().split(compare.README_START, 1)[1].split(compare.README_END, 1)[0]
    assert block.strip() == compare.readme_block(table)
    assert _read("docs/compare_quick.md") == compare.markdown(table)


def test_every_other_readme_number_is_on_a_results_page():
    section = _results_section()
    prose = section.split(compare.README_START, 1)[0] + section.split(compare.README_END, 1)[1]
    pages = _results_pages()
    for number in re.findall(NUMBER, prose):
        assert number in pages, f"README number {number!r} is on no results page"


def test_every_expected_result_in_a_config_is_on_a_results_page():
    pages = _results_pages()
    for task in TASKS:
        doc = importlib.import_module(f"dbc_jax.configs.{task}").__doc__
        expected = doc.split("Expected (", 1)[1]
        numbers = [n.replace("+-", "±").replace("-", "−")
                   for n in re.findall(r"-?\d+(?:\.\d+)? \+- \d+(?:\.\d+)?", expected)]
        assert len(numbers) >= 8, task  # every method's result and the paper's
        for number in numbers:
            assert number in pages, f"dbc_jax/configs/{task}.py: expected {number!r} is in neither results page"
