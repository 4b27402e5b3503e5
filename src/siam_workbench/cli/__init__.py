"""``siam``: the headless face of the workbench. Every GUI action has a subcommand here.

Subcommands live in sibling modules, each exposing ``register(subparsers)``; a handler returns an
exit code. Exit codes:

* 0 success;
* 2 a user-caused problem: :class:`siam_workbench.base.errors.SiamError`, a file system error (full
disk, permissions) or running out of memory, printed as one line on stderr, never a traceback;
* 130 interrupted (Ctrl-C or SIGTERM): whatever was being written is left as it was;
* 141 the reader of our output went away (``siam fonts | head``): stop quietly.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

from siam_workbench import __version__
from siam_workbench.base.errors import Cancelled, SiamError

# Modules that register subcommands, in the order they appear in --help.
_MODULES = tuple(f"siam_workbench.cli.{name}" for name in (
    "data_cmds", "train_cmds", "augment_cmds", "label_cmds", "parts_cmds", "labeling_cmds",
    "trust_cmds", "samples_cmds", "fewshot_cmds", "examples_cmds"))


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="siam",
        description="Siam Workbench command line: render glyphs, train Siamese networks with "
        "auto-probabilistic / auto-clustering mining, evaluate, query and export.",
    )
    parser.add_argument("--version", action="version", version=f"siam {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # a command group not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    name = f"siam {args.command}"
    try:
        with _terminate_as_interrupt():
            code = args.handler(args)
            sys.stdout.flush()  # a closed pipe must show up here, not at interpreter exit
    except SiamError as exc:
        return _error(name, str(exc))
    except (KeyboardInterrupt, Cancelled):
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except MemoryError:
        return _error(name, "out of memory (the input is larger than this machine can hold)")
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return _error(name, f"{where}{exc.strerror or exc}")
    return int(code or 0)


def _error(name: str, message: str) -> int:
    text = " ".join(message.split())  # one line, whatever the message held
    try:
        print(f"{name}: error: {text}", file=sys.stderr)
    except OSError:
        pass
    return 2


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so Python's exit flush does not fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a command the way Ctrl-C does (atomic writes unwind, temp files go)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def cancel_on_signals() -> Iterator[threading.Event]:
    """For long jobs with a ``cancel`` event (render, import): Ctrl-C or SIGTERM sets the event,
    and the job stops at its next check, cleanly (a second signal interrupts at once).

    A signal turned into an exception at a random point can land in a callback that Python
    ignores (a weakref finaliser inside the worker pool) and be lost; a flag cannot.
    """
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def handler(signum: int, frame: object) -> None:
        if event.is_set():
            raise KeyboardInterrupt
        event.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield event
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if event.is_set():
        raise Cancelled()


if __name__ == "__main__":
    sys.exit(main())
