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
        assert len(numbers) >= (8 if TASKS[task].paper_name else 4), task  # every method's, and the paper's
        for number in numbers:
            assert number in pages, f"dbc_jax/configs/{task}.py: expected {number!r} is in neither results page"


def _readme_table(heading_text: str) -> list[list[str]]:
    """The body rows (cells stripped) of the first table after ``heading_text`` in the README."""
    lines = _read("README.md").split(heading_text, 1)[1].splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = [line for line in lines[first:first + 100] if line.startswith("|")]
    table = table[:next((i for i, line in enumerate(lines[first:]) if not line.startswith("|")), len(table))]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table[2:]]


def test_the_readme_presets_table_is_the_maze_configs():
    import dbc_jax

    rows = {row[0].split()[0].strip("`"): row for row in _readme_table("**Presets**")}
    assert set(rows) == {"smoke", "quick", "paper"}
    for preset, row in rows.items():
        c = dbc_jax.get_config("maze", preset)
        model, policy, data = row[2], row[3], row[4]
        assert model.startswith(f"{c.diffusion.hidden} wide, {c.diffusion.epochs} epochs"), (preset, model)
        widths = " × ".join(map(str, c.policy.hidden_sizes)) if len(set(c.policy.hidden_sizes)) > 1 else \
            f"{len(c.policy.hidden_sizes)} × {c.policy.hidden_sizes[0]}"
        assert policy.startswith(f"{widths}, {c.policy.epochs} epochs"), (preset, policy)
        for section, text in ((c.diffusion, model), (c.policy, policy)):
            assert preset == "smoke" or float(re.search(r"lr (\S+)", text)[1]) == section.lr, (preset, text)
        assert data == f"{c.data.num_episodes} episodes; {c.eval.num_episodes} per seed", (preset, data)
        assert c.num_seeds == 3


def test_the_readme_own_data_table_is_what_the_reader_takes():
    from dbc_jax.data.dataset import REQUIRED_FIELDS

    rows = _readme_table("### Your own data")
    names = [row[0].split()[0].strip("`") for row in rows]
    assert names == [*REQUIRED_FIELDS, "next_obs", "rewards", "metadata"]
    assert [row[0].endswith("(optional)") for row in rows] == [False] * 3 + [True] * 3
    dims = " ".join(_read("README.md").split("obs_dim and act_dim are the task's (", 1)[1].split(")", 1)[0].split())
    for task in TASKS.values():
        assert re.search(rf"{task.name}(?: and \w+)? {task.obs_dim} and {task.act_dim}", dims), task.name


def test_make_installs_the_cuda_build_when_asked():
    import configparser
    import subprocess

    dry = subprocess.run(["make", "-n", "install", "GPU=1", "VENV=/nonexistent-venv"], capture_output=True, text=True,
                         cwd=ROOT)
    assert dry.returncode == 0 and '/nonexistent-venv/bin/python -m pip install -q -e ".[dev,cuda]"' in dry.stdout
    setup = configparser.ConfigParser()
    setup.read(os.path.join(ROOT, "setup.cfg"))
    jax_pin = next(r for r in setup["options"]["install_requires"].split() if r.startswith("jax>="))
    assert setup["options.extras_require"]["cuda"].split() == [jax_pin.replace("jax", "jax[cuda12]", 1)]


def test_the_paper_preset_page_is_generated_and_lists_every_cell():
    """docs/paper_table_paper.md (the paper preset's campaign, issue 35) is its JSON's, and each asked cell is
    either finished or listed with its progress or reason."""
    table = json.loads(_read("docs/paper_table_paper.json"))
    assert table["preset"] == "paper"
    assert _read("docs/paper_table_paper.md") == paper_table.markdown(table)
    asked = {(c["task"], c["data"], c["method"]) for c in table["cells"] + table["missing"]}
    assert {("halfcheetah", "paper", m) for m in ("dbc", "bc")} | {("walker", "paper", m) for m in ("dbc", "bc")} \
        | {("fetchpick", "ours", m) for m in ("dbc", "bc")} <= asked
    assert all(m["reason"] for m in table["missing"])
