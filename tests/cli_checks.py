"""Running the CLI in-process in a test, shared by the CLI tests: the exit code and both streams, and the
project's rule for bad input (exit 2, nothing on standard output, one line on standard error, no
traceback)."""

from __future__ import annotations

from llm_roofline.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    """Run ``llm-roofline *argv`` in-process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(capsys, *argv) -> str:
    """Run the CLI in-process; assert exit 2, nothing on stdout and one line on stderr; return it."""
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "", (code, out[:200], err[:500])
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err[:500]
    return err
