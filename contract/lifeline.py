"""Children that end with the process that started them, however it ends (kill -9 too).

The starter keeps a pipe's write end and hands the child the read end, its number in
LIFELINE_ENV. When the starter dies the kernel closes the write end, so the child reads end
of file and stops: this works on any POSIX system and needs no signal. On Linux the starter
also arms the parent-death signal (`command`): it ends a child whose event loop is too busy,
or not yet running, to read.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import stat
import sys

LIFELINE_ENV = "PAYSTORM_LIFELINE_FD"
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def inherited() -> int | None:
    """The lifeline this process was given, if any. Taken out of the environment: what this
    process starts in turn does not have the descriptor, and must not watch its number."""
    raw = os.environ.pop(LIFELINE_ENV, None)
    if raw is None:
        return None
    try:
        fd = int(raw)
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            return fd
    except (ValueError, OSError):
        pass
    return None


def cut(fd: int) -> bool:
    """Whether the starter is gone; call when `fd` is readable. Nobody writes to a lifeline,
    so anything read but end of file is ignored."""
    try:
        return os.read(fd, 512) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def die_with_parent(sig: int, parent: int) -> None:
    """On Linux, have the kernel send `sig` to this process when `parent` dies; at once when it
    already has. Elsewhere nothing: the lifeline alone. The kernel sends it when the parent's
    *thread* that started this process ends, so start children from a thread that lives as
    long as they should."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # it died before the signal was armed
        os.kill(os.getpid(), sig)


def forks_die_with_this_process(sig: int) -> None:
    """From now on, a process forked from this one gets `sig` when this one dies (Linux): a
    fork does not inherit the parent-death signal, and a forked process has no command line
    of its own for `command` to wrap."""
    forked_from = [os.getpid()]

    def before() -> None:
        forked_from[0] = os.getpid()

    def in_child() -> None:
        die_with_parent(sig, forked_from[0])

    os.register_at_fork(before=before, after_in_child=in_child)


# `command`'s first step, a Python without site-packages (-I -S): 30 ms instead of the 100 or
# more of a full start, so it imports nothing of paystorm and repeats die_with_parent.
_ARM_THEN_EXEC = """\
import ctypes, os, signal, sys
parent, sig, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
signal.signal(signal.SIGINT, signal.SIG_DFL)
if ctypes.CDLL(None, use_errno=True).prctl(1, sig, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_PDEATHSIG) failed: " + os.strerror(ctypes.get_errno()))
if os.getppid() != parent:
    os.kill(os.getpid(), sig)
os.execv(argv[0], argv)
"""


def command(sig: int, argv: list[str]) -> list[str]:
    """`argv`, started so that it receives `sig` when this process dies (Linux): a Python
    arms the signal, then becomes `argv` (the signal stays armed across exec). SIGINT is
    given back its default first: a runner started as a script's background job inherits it
    ignored, and a child that ignores it could not be stopped the way the runner stops
    Locust (SIGINT, so that it writes its results)."""
    if sys.platform != "linux":
        return argv
    return [sys.executable, "-I", "-S", "-c", _ARM_THEN_EXEC, str(os.getpid()), str(sig), *argv]


def stop_when_orphaned(loop: asyncio.AbstractEventLoop, stop: asyncio.Event, who: str) -> None:
    """Started by a runner that died without stopping it (kill -9): set `stop` as on SIGTERM.
    `who` names the server in the one line it prints then."""
    fd = inherited()
    if fd is None:
        return

    def readable() -> None:
        if cut(fd):
            loop.remove_reader(fd)
            print(f"{who}: the process that started it is gone", flush=True)
            stop.set()

    loop.add_reader(fd, readable)
