"""Running ``siam`` in-process in the CLI tests, and the one-line error every user mistake gets."""

from __future__ import annotations

from siam_workbench.cli import main


def run(capsys, *argv: object) -> tuple[int, str, str]:
    """``siam ARGV``: its exit code, stdout and stderr."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code: int, err: str, *fragments: str) -> None:
    """Exit 2 and one line (no traceback) holding every fragment."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for f in fragments:
        assert f in lines[0], (f, lines[0])
