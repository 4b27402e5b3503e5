"""Thread and allocator controls: counts are per thread and restored; trimming returns freed
heap pages to the OS."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest
import torch

from siam_workbench.model import perf


def test_intra_op_threads_restores_and_leaves_other_threads_alone():
    torch.set_num_threads(2)
    seen = {}
    ready, go = threading.Event(), threading.Event()

    def other():
        torch.ones(4) + 1  # a first op fixes this thread's own count
        seen["start"] = torch.get_num_threads()
        ready.set()
        go.wait(30)
        seen["during"] = torch.get_num_threads()

    t = threading.Thread(target=other)
    t.start()
    assert ready.wait(30)
    with perf.intra_op_threads(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
        go.set()
        t.join(30)
    assert torch.get_num_threads() == 2
    assert seen == {"start": 2, "during": 2}


def test_intra_op_threads_restores_after_an_error():
    torch.set_num_threads(2)
    with pytest.raises(RuntimeError), perf.intra_op_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == 2
    with perf.intra_op_threads(8) as n:  # never raises the count
        assert n == 2


def test_set_threads():
    try:
        assert perf.set_threads(1) == 1 == torch.get_num_threads()
        assert perf.set_threads(0) == perf.DEFAULT_THREADS
        with pytest.raises(ValueError):
            perf.set_threads(-1)
    finally:
        torch.set_num_threads(perf.DEFAULT_THREADS)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_release_memory_returns_fragmented_heap():
    """With the tuned allocator, freed 8 MiB blocks stay in the process (that is the speed-up);
    small live blocks between them keep the heap's top from shrinking. malloc_trim returns them.
    """
    # The blocks come from malloc itself (not torch, whose small tensors may land anywhere),
    # so the layout is exactly "big, small, big, small, …".
    code = textwrap.dedent("""
        import ctypes, json
        from siam_workbench.model import perf

        class MallInfo2(ctypes.Structure):  # glibc >= 2.33
            _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
                        "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

        libc = ctypes.CDLL("libc.so.6")
        libc.malloc.restype = ctypes.c_void_p
        libc.free.argtypes = [ctypes.c_void_p]
        libc.mallinfo2.restype = MallInfo2
        assert perf.tune_allocator()
        big, pins = [], []
        for _ in range(60):
            p = libc.malloc(8 << 20)               # 8 MiB, on the heap
            ctypes.memset(p, 1, 8 << 20)           # resident
            big.append(p)
            pins.append(libc.malloc(4096))         # a small live block after each
        base = perf.resident_mb()
        for p in big:
            libc.free(p)
        held = perf.resident_mb()
        free_in_heap = libc.mallinfo2().fordblks / 2**20
        perf.release_memory()
        print(json.dumps({"base": base, "held": held, "free_in_heap": free_in_heap,
                          "after": perf.resident_mb()}))
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    import json

    m = json.loads(res.stdout)
    assert m["free_in_heap"] > 400  # freeing kept the blocks in malloc's heap …
    assert m["after"] < m["base"] - 300  # … and trimming gave them back (480 MiB were freed)
