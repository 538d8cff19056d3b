"""Every Python block in ``docs/`` runs as written.

Each page is one test: its ```` ```python ```` blocks run in page order in one namespace,
in a fresh working directory, the way a reader pasting them into a notebook would run
them. A failure names the page, the block's first line number and the exception, so a
broken example is fixed where it is written.
"""

from __future__ import annotations

import doctest
import io
import re
import traceback
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"

# An opening fence of three or more backticks followed by the language, at the start of
# a line (indented fences inside admonitions count too), and its matching close.
_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,})[ \t]*(?P<lang>[\w+-]*)[^\n]*\n"
    r"(?P<body>.*?)"
    r"^(?P=indent)(?P=fence)[ \t]*$",
    re.DOTALL | re.MULTILINE,
)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """Return ``(line number, source)`` of each Python block of a Markdown page."""
    blocks = []
    for match in _FENCE.finditer(text):
        if match.group("lang").lower() not in {"python", "py"}:
            continue
        indent = match.group("indent")
        lines = match.group("body").splitlines()
        source = "\n".join(
            line[len(indent) :] if line.startswith(indent) else line for line in lines
        )
        line_number = text.count("\n", 0, match.start()) + 2
        blocks.append((line_number, source))
    return blocks


_DOCTEST_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def run_block(source: str, namespace: dict[str, object], name: str, line_number: int) -> None:
    """Run one block in ``namespace``; a ``>>>`` block is a doctest and its output is checked.

    Raises
    ------
    AssertionError
        When a doctest block prints something other than what the page shows.
    """
    if not source.lstrip().startswith(">>>"):
        exec(compile(source, name, "exec"), namespace)
        return
    test = doctest.DocTestParser().get_doctest(source, namespace, name, name, line_number - 1)
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=_DOCTEST_FLAGS)
    runner.run(test, out=report.write, clear_globs=False)
    namespace.update(test.globs)
    if runner.failures:
        raise AssertionError(report.getvalue())


def _pages() -> list[Path]:
    return sorted(path for path in DOCS.rglob("*.md") if python_blocks(path.read_text("utf-8")))


def test_the_block_finder_sees_every_python_fence() -> None:
    text = (
        "intro\n```python\nx = 1\n```\n\n```bash\nls\n```\n"
        "!!! note\n    ```python\n    y = x + 1\n    ```\n"
        "````python\nz = '```'\n````\n"
    )
    assert python_blocks(text) == [(3, "x = 1"), (11, "y = x + 1"), (14, "z = '```'")]


def test_a_doctest_block_checks_its_output() -> None:
    namespace: dict[str, object] = {}
    run_block(">>> x = 2\n>>> x + 1\n3\n", namespace, "page.md:1", 1)
    assert namespace["x"] == 2
    with pytest.raises(AssertionError, match="Expected"):
        run_block(">>> 1 + 1\n3\n", namespace, "page.md:5", 5)


def test_the_docs_have_python_blocks() -> None:
    # Guards the runner itself: a regex that stopped matching would make every page pass.
    assert len(_pages()) >= 10


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_page_runs_as_written(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDGEML_DOCS_RUN", "1")
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for line_number, source in python_blocks(page.read_text("utf-8")):
        try:
            run_block(source, namespace, f"{page.relative_to(DOCS)}:{line_number}", line_number)
        except (Exception, SystemExit) as exc:  # a block that raises or exits fails the page
            failure = exc
        else:
            continue
        detail = "".join(traceback.format_exception(failure, limit=-4))
        pytest.fail(
            f"docs/{page.relative_to(DOCS)}, block at line {line_number} raised "
            f"{type(failure).__name__}:\n{detail}",
            pytrace=False,
        )
