"""The docs tell one story: the README's headline numbers are those of the results page."""

import os
import re

ROOT = os.path.join(os.path.dirname(__file__), "..")


def _read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def test_every_headline_number_is_on_the_results_page():
    readme, results = _read("README.md"), _read("docs/results.md")
    section = readme.split("## Results", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| task")]
    prose = [line for line in section.splitlines() if not line.startswith("|")]
    cells = [cell for row in rows for cell in row.strip("|").split("|")[1:]]
    assert len(cells) == 24  # six tasks x four methods
    for cell in cells:
        for number in re.findall(r"[−-]?\d+(?:\.\d+)? ± \d+(?:\.\d+)?", cell):
            assert number in results, f"README headline {number!r} is not in docs/results.md"
    for number in re.findall(r"[−-]?\d+(?:\.\d+)? ± \d+(?:\.\d+)?", "\n".join(prose)):
        assert number in results, f"README number {number!r} is not in docs/results.md"
