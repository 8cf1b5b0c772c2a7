"""The docs tell one story: the README's table is the generated one, and the README's other numbers and the configs'
expected results are on a results page."""

import importlib
import json
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..")
sys.path.insert(0, os.path.join(ROOT, "experiments"))
import paper_table  # noqa: E402
from dbc_jax.tasks import TASKS  # noqa: E402

NUMBER = r"[−-]?\d+(?:\.\d+)? ± \d+(?:\.\d+)?"


def _read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def _results_pages():
    return _read("docs/results.md") + _read("docs/paper_table_quick.md")


def _results_section():
    return _read("README.md").split("## Results", 1)[1].split("\n## ", 1)[0]


def test_the_readme_table_is_the_complete_generated_one():
    table = json.loads(_read("docs/paper_table_quick.json"))
    assert table["missing"] == [] and table["unavailable"] == []
    assert len(table["cells"]) == 9 * 4  # Maze, HalfCheetah, Walker2d on both data; FetchPick, HandRotate, AntReach
    block = _results_section().split(paper_table.README_START, 1)[1].split(paper_table.README_END, 1)[0]
    assert block.strip() == paper_table.headline(table, "final")
    assert _read("docs/paper_table_quick.md") == paper_table.markdown(table)  # the page is not edited by hand


def test_every_other_readme_number_is_on_a_results_page():
    section = _results_section()
    prose = section.split(paper_table.README_START, 1)[0] + section.split(paper_table.README_END, 1)[1]
    pages = _results_pages()
    numbers = re.findall(NUMBER, prose)
    assert numbers  # the paragraph on the diffusion model's draw
    for number in numbers:
        assert number in pages, f"README number {number!r} is in neither docs/results.md nor docs/paper_table_quick.md"


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
