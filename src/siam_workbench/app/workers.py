"""Background jobs on ``QThread``s: training, rendering, font coverage.

Pattern (one for all jobs): a :class:`Job` ``QObject`` is moved to a fresh ``QThread`` and its
:meth:`Job.run` slot does the blocking engine call. Results travel back as queued signals that
carry copies, so the GUI never shares mutable state with the worker. Because ``run()`` keeps the
worker thread busy, control calls (pause / resume / stop / cancel) are plain thread-safe methods
called directly from the GUI thread — never queued slots, which would only run after the job.

:func:`live_threads` lists threads still running, for tests and for the close-window check.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
import shiboken6
from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

from siam_workbench.base.errors import Cancelled, SiamError

# Runners whose thread has started and not yet wound down. Holding the runner (and through it
# the job and the QThread) here is what keeps the GUI thread from freeing either while the
# worker still uses them; see JobRunner._on_thread_finished.
_LIVE: set[JobRunner] = set()
_RELEASING: list[JobRunner] = []  # relayed ``finished``; dropped on the next event-loop turn
_ENDED_POLL_MS = 2


def _release_ended() -> None:
    _RELEASING.clear()


def live_threads() -> list[QThread]:
    """Job threads started whose runner has not yet relayed ``finished``."""
    out = []
    for runner in list(_LIVE):
        if not shiboken6.isValid(runner):
            # Its Qt parent deleted it: nothing will relay; release it once the thread ended.
            if runner.ended():
                _LIVE.discard(runner)
                continue
        out.append(runner.thread)
    return out


def describe_exception(exc: BaseException) -> tuple[str, str]:
    """(message, details) for the error dialog: a SiamError is its own message; an OSError
    (disk full, read-only folder) is explained by its strerror and file; anything else is a bug
    and keeps its traceback in the details."""
    if isinstance(exc, SiamError):
        return str(exc), ""
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}", ""
    details = "".join(traceback.format_exception(exc))
    return f"{type(exc).__name__}: {exc}", details


class Job(QObject):
    """Base class: subclasses implement :meth:`work`; the outcome arrives as exactly one of
    ``succeeded(result)``, ``failed(message, details)`` or ``cancelled()``, then ``done()``."""

    succeeded = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    done = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._cancel = threading.Event()

    def work(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def cancel(self) -> None:
        """Thread-safe: ask the job to stop at its next check."""
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @Slot()
    def run(self) -> None:
        try:
            result = self.work()
        except Cancelled:
            self.cancelled.emit()
        except BaseException as exc:  # noqa: BLE001 - everything must reach the GUI
            message, details = describe_exception(exc)
            self.failed.emit(message, details)
        else:
            if self._cancel.is_set() and result is None:
                self.cancelled.emit()
            else:
                self.succeeded.emit(result)
        finally:
            self.done.emit()


class JobRunner(QObject):
    """Owns one job and its thread, and relays the job's outcome on the GUI thread.

    Connect GUI code to the runner's ``succeeded`` / ``failed`` / ``cancelled`` rather than the
    job's: PySide runs a lambda connected to a worker-thread signal *on the worker thread*; the
    runner's own slots are bound methods of a GUI-thread object, so the hop is always queued.
    ``finished`` fires after the thread ended, i.e. after every signal of the job arrived.
    """

    succeeded = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, job: Job, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.thread = QThread()
        self.thread.setObjectName(name)
        job.moveToThread(self.thread)
        self.thread.started.connect(job.run)
        # Direct: QThread.quit is thread-safe, and a queued quit would wait for the GUI thread
        # (which may itself be waiting for this thread to end, e.g. while closing).
        job.done.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.thread.finished.connect(job.deleteLater)
        self.thread.finished.connect(self._on_thread_finished)
        job.succeeded.connect(self._relay_succeeded)
        job.failed.connect(self._relay_failed)
        job.cancelled.connect(self._relay_cancelled)

    def start(self) -> None:
        _LIVE.add(self)
        self.thread.start()

    def ended(self) -> bool:
        """Whether the thread has wound down completely (``isFinished`` alone is already true
        while Qt is still inside the thread's finish, deleting the job there)."""
        return self.thread.isFinished() and self.thread.wait(0)

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def wait(self, ms: int) -> bool:
        """Block until the thread ended or ``ms`` passed; True if it ended.

        Not ``QThread.wait``: PySide keeps the GIL while blocked in it, so a worker that still
        has Python to run (saving a checkpoint) could never finish — a deadlock until timeout.
        Sleeping in short steps releases the GIL.
        """
        deadline = time.monotonic() + ms / 1000
        while not self.thread.isFinished() and self.thread.isRunning():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def _relay_succeeded(self, result: object) -> None:
        self.succeeded.emit(result)

    def _relay_failed(self, message: str, details: str) -> None:
        self.failed.emit(message, details)

    def _relay_cancelled(self) -> None:
        self.cancelled.emit()

    def _on_thread_finished(self) -> None:
        # Qt emits QThread.finished *before* the worker processed the job's deleteLater and
        # wound down. Relaying it at once let the GUI thread drop the last references while
        # the worker still used them: the job deleted on both threads (a SIGSEGV in
        # QObject::~QObject on a thread with no Python frame, in a font-coverage test) or the
        # QThread destroyed while its thread ran (gdb, earlier: Shiboken::Object::destroy on
        # the worker, QThread::~QThread on the GUI thread). So the relay waits until the
        # thread has really ended, and _LIVE holds runner, job and thread until then.
        if not self.ended():
            QTimer.singleShot(_ENDED_POLL_MS, self, self._on_thread_finished)
            return
        _LIVE.discard(self)
        # The last reference may be this one: released on a later turn of the event loop,
        # not inside this runner's own slot.
        _RELEASING.append(self)
        QTimer.singleShot(0, _release_ended)
        self.finished.emit()


class _Throttle:
    """Lets a call through at most every ``interval`` seconds (the first and forced ones always)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last = -1e9

    def ready(self, force: bool = False) -> bool:
        now = time.monotonic()
        if force or now - self._last >= self.interval:
            self._last = now
            return True
        return False


def copy_event(event: Any) -> Any:
    """A deep copy of a trainer event with numpy arrays copied, safe to hand to the GUI."""
    if dataclasses.is_dataclass(event) and not isinstance(event, type):
        changes = {}
        for f in dataclasses.fields(event):
            value = getattr(event, f.name)
            if isinstance(value, np.ndarray):
                changes[f.name] = value.copy()
            elif isinstance(value, (dict, list)):
                changes[f.name] = copy.deepcopy(value)
        return dataclasses.replace(event, **changes)
    return copy.copy(event)


# -- training ----------------------------------------------------------------------------------
class TrainJob(Job):
    """Wraps a Trainer. ``factory`` builds it on the worker thread (building loads the datasets,
    which must not stall the GUI); every trainer event is re-emitted as ``event(copy)``."""

    event = Signal(object)

    def __init__(self, factory: Callable[[], Any]) -> None:
        super().__init__()
        self._factory = factory
        self._lock = threading.Lock()
        self._trainer: Any = None
        self._paused = False
        self._stopped = False
        self.run_dir: Any = None

    def work(self) -> Any:
        _prepare_training_thread()
        trainer = self._factory()
        with self._lock:
            self._trainer = trainer
            self.run_dir = getattr(trainer, "run_dir", None)
            stopped, paused = self._stopped, self._paused
        if stopped:
            return None
        trainer.subscribe(self._forward)
        if paused:
            trainer.pause()
        return trainer.run()

    def _forward(self, event: Any) -> None:
        # Runs on the training thread: copy, then a queued signal to the GUI.
        self.event.emit(copy_event(event))

    # Thread-safe controls, called directly from the GUI thread.
    def pause(self) -> None:
        with self._lock:
            self._paused = True
            trainer = self._trainer
        if trainer is not None:
            trainer.pause()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            trainer = self._trainer
        if trainer is not None:
            trainer.resume()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            trainer = self._trainer
        self.cancel()
        if trainer is not None:
            trainer.stop()

    def trainer_state(self) -> str:
        """The trainer's own state (``running`` / ``paused`` / ...), or ``starting``."""
        with self._lock:
            trainer = self._trainer
        return str(getattr(trainer, "state", "unknown")) if trainer is not None else "starting"

    def cancel_requested_before_start(self) -> bool:
        with self._lock:
            return self._stopped and self._trainer is None


def _prepare_training_thread() -> None:
    """CPU settings for training inside the GUI process, applied on the worker thread.

    * Denormal floats flush to zero: the FTZ/DAZ flags are per-thread CPU state, so it has to
      happen on this thread; mokin37's softsign produces many denormals, which made a CPU
      iteration ~2× slower. Values below ~1e-38 becoming 0 changes nothing measurable.
    * One core stays free for the GUI thread: torch's intra-op pool defaults to every core,
      and a pool that competes with the event loop (or any other load) for the last core
      spins instead of working — on 2 loaded cores an epoch took 8× longer.
    """
    try:
        import torch

        torch.set_flush_denormal(True)
        cores = os.cpu_count() or 1
        if torch.get_num_threads() >= cores:
            torch.set_num_threads(max(1, cores - 1))
    except Exception:  # noqa: BLE001 - optimisations only
        pass


def make_trainer_factory(project: Any, config: Any, resume: Any = None,
                         run_dir: Any = None) -> Callable[[], Any]:
    """The real factory: ``siam_workbench.train.trainer.Trainer(project, config, run_dir,
    resume)``."""

    def factory() -> Any:
        from siam_workbench.train.trainer import Trainer

        return Trainer(project, config=config, run_dir=run_dir, resume=resume)

    return factory


# -- evaluating a run ---------------------------------------------------------------------------
class RunEvaluationJob(Job):
    """A run's checkpoint evaluated on one glyph file, with throttled ``progress(done,
    total)``: the Evaluate page's per-class evaluation and its few-shot episodes share this.

    Subclasses implement :meth:`evaluate` with the loaded run; loading and the cancel check
    between loading and evaluating are done here."""

    progress = Signal(int, int)

    def __init__(self, run_dir: Any, data: Any, checkpoint: str = "last") -> None:
        from pathlib import Path

        super().__init__()
        self.run_dir, self.data, self.checkpoint = Path(run_dir), Path(data), checkpoint
        self._throttle = _Throttle(0.1)

    def _progress(self, done: int, total: int) -> None:
        if self._throttle.ready(force=done >= total):
            self.progress.emit(done, total)

    def work(self) -> Any:
        from siam_workbench.infer.evaluate import load_run

        run = load_run(self.run_dir, which=self.checkpoint)
        if self._cancel.is_set():
            raise Cancelled()
        return self.evaluate(run)

    def evaluate(self, run: Any) -> Any:
        raise NotImplementedError


# -- rendering ---------------------------------------------------------------------------------
class RenderJob(Job):
    """``siam_workbench.data.render_splits.render_splits`` with throttled progress ``(label, done,
    total)``."""

    progress = Signal(str, int, int)

    def __init__(self, project: Any, force: bool = True) -> None:
        super().__init__()
        self._project = project
        self._force = force
        self._throttle = _Throttle(0.1)

    def _on_progress(self, label: str, done: int, total: int) -> None:
        if self._cancel.is_set():
            raise Cancelled()
        if self._throttle.ready(force=done >= total):
            self.progress.emit(label, done, total)

    def work(self) -> Any:
        from siam_workbench.data.render_splits import render_splits

        return render_splits(self._project, cancel=self._cancel, force=self._force,
                             progress=lambda done, total: self._on_progress("", done, total))


# -- fonts -------------------------------------------------------------------------------------
class CoverageJob(Job):
    """Discovers fonts (unless given), then reports each face's alphabet coverage and a sample
    glyph as soon as it is known, so an 80-face table fills in progressively. Every signal
    carries the job's ``tag`` so the GUI can drop results of a job it has since replaced."""

    faces_found = Signal(int, object)  # tag, list[FontFace]
    face_done = Signal(int, object, object, object)  # tag, face id, fraction | None, sample
    progress = Signal(int, int, int)  # tag, done, total

    def __init__(self, tag: int, classes: list[str], sample_text: str, extra: list[Any],
                 faces: list[Any] | None = None, image_size: int = 37, margin: int = 2) -> None:
        super().__init__()
        self.tag = tag
        self._classes = list(classes)
        self._sample = sample_text
        self._extra = list(extra)
        self._faces = faces
        self._size = image_size
        self._margin = margin

    def work(self) -> Any:
        from siam_workbench.data import fonts

        faces = self._faces
        if faces is None:
            faces = list(fonts.discover_fonts(extra=self._extra, system=True))
            self.faces_found.emit(self.tag, list(faces))
        from siam_workbench.data import render
        total = len(faces)
        for i, face in enumerate(faces):
            if self._cancel.is_set():
                raise Cancelled()
            frac = None
            if self._classes:
                try:
                    mask = np.asarray(fonts.coverage(face, self._classes), dtype=bool)
                    frac = float(mask.mean()) if mask.size else 0.0
                except Exception:  # noqa: BLE001 - one unreadable font must not stop the table
                    frac = None
            sample = None
            if render is not None and self._sample:
                try:
                    img = render.render_glyph(face, self._sample, size=self._size,
                                              margin=self._margin)
                    sample = None if img is None else np.array(img, dtype=np.uint8, copy=True)
                except Exception:  # noqa: BLE001
                    sample = None
            self.face_done.emit(self.tag, face.id, frac, sample)
            self.progress.emit(self.tag, i + 1, total)
        return total


class FunctionJob(Job):
    """Run one blocking call (``fn()``) off the GUI thread; its return value is the result."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__()
        self._fn = fn

    def work(self) -> Any:
        return self._fn()


# -- short background calls ------------------------------------------------------------------
# (run_in_thread: no runner for the caller to keep; _LIVE holds it until its thread ended)


def _guard(owner: QObject, fn: Callable[..., None] | None) -> Callable[..., None]:
    """Call ``fn`` only while ``owner`` (the tab that asked) still exists."""

    def call(*args: Any) -> None:
        if fn is not None and shiboken6.isValid(owner):
            fn(*args)

    return call


def run_in_thread(fn: Callable[[], Any], owner: QObject, name: str,
          on_result: Callable[[Any], None] | None = None,
          on_error: Callable[[str, str], None] | None = None) -> JobRunner:
    """Run ``fn()`` on a new thread; ``on_result(value)`` / ``on_error(message, details)`` run
    on the GUI thread (skipped if ``owner`` was deleted meanwhile). Returns the runner; its
    ``finished`` fires once the thread has ended."""
    job = FunctionJob(fn)
    runner = JobRunner(job, name)
    runner.thread.finished.disconnect(job.deleteLater)  # freed on the GUI thread instead
    runner.succeeded.connect(_guard(owner, on_result))
    runner.failed.connect(_guard(owner, on_error))
    runner.start()  # held by _LIVE until the thread ended, whatever the caller keeps
    return runner


def prewarm_imports() -> None:
    """Import the training stack ahead of time (run on a worker thread at start-up).

    Building the first optimiser imports ``torch._dynamo`` — seconds of module loading that
    holds the GIL in long stretches. Done inside the first training job it froze the GUI for
    up to half a second right after "Start"; done early, while the user looks at the project,
    it costs nothing noticeable.
    """
    import importlib

    for name in ("siam_workbench.train.trainer", "torch._dynamo"):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - best effort; the real import reports errors
            pass
