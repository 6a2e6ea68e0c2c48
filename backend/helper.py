"""Helper processes for the server's CPU-bound Python work that would stall the writer thread.

The writer's DuckDB calls release the GIL and take it back several times each; Python work in
another thread (decoding a large body) holds the GIL for milliseconds at a stretch and every one
of those calls waits for it. A process has its own GIL, so that work runs on another core. The
event loop talks to each helper over a pipe itself: a process pool's feeder and result threads
cost the server as much CPU per call as decoding a 1,000-event body on the writer.

    python -m backend.helper MODULE...   (started by the server: imports the modules, then answers
                                          pickled calls read on stdin, in order, on stdout)
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import pickle
import signal
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

T = TypeVar("T")
HEADER = 8  # bytes of a frame's length, little-endian
ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger(__name__)


class HelperUnavailable(RuntimeError):
    """No helper is ready (still starting, or died): the caller does the work itself."""


class HelperProcess:
    """One helper, started on demand; ready once it has imported its modules; restarted if it dies
    after that (killed, out of memory), not if it cannot start."""

    def __init__(self, preload: tuple[str, ...]) -> None:
        self.preload = preload
        self.waiting: deque[asyncio.Future] = deque()  # answers come back in the order calls went out
        self._process: asyncio.subprocess.Process | None = None
        self._starting: asyncio.Task | None = None

    @property
    def ready(self) -> bool:
        return self._process is not None

    def start(self) -> None:
        if self._starting is None:
            self._starting = asyncio.create_task(self._start())

    async def _start(self) -> None:
        env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "backend.helper", *self.preload, env=env,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        except (OSError, NotImplementedError) as error:  # stays unavailable: the writer decodes everything
            log.warning("no helper process (%s); large bodies are decoded on the writer thread", error)
            return
        try:
            await _read_frame(process.stdout)  # sent once its imports are done
        except (asyncio.IncompleteReadError, ConnectionError):  # it would fail again: stays unavailable
            log.warning("the helper process exited at start (exit code %s); large bodies are decoded on the "
                        "writer thread", await process.wait())
            return
        except asyncio.CancelledError:  # the server closed while it started
            process.kill()
            raise
        self._process, self.waiting = process, deque()
        await self._answers(process, self.waiting)

    async def _answers(self, process: asyncio.subprocess.Process, waiting: deque[asyncio.Future]) -> None:
        try:
            while True:
                ok, value = await _read_frame(process.stdout)
                answer = waiting.popleft()
                if answer.done():  # its request was cancelled meanwhile
                    continue
                if ok:
                    answer.set_result(value)
                else:
                    answer.set_exception(value)
        except (asyncio.IncompleteReadError, ConnectionError):
            self._process, self._starting = None, None
            await process.wait()
            for answer in waiting:
                if not answer.done():
                    answer.set_exception(HelperUnavailable(f"the helper process ended (exit code {process.returncode})"))

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) in the helper (fn importable by name)."""
        if self._process is None:
            raise HelperUnavailable("the helper process is not running")
        answer = asyncio.get_running_loop().create_future()
        self._process.stdin.write(_frame((fn, args)))
        self.waiting.append(answer)
        try:
            await self._process.stdin.drain()
        except ConnectionError:  # it died meanwhile (its reader fails `answer` as well)
            raise HelperUnavailable("the helper process ended") from None
        return await answer

    async def close(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.stdin.close()  # the helper exits at the end of its input
            await process.wait()
        if self._starting is not None:
            self._starting.cancel()


class Helpers:
    """A few helper processes; a call goes to the ready one with the fewest calls waiting."""

    def __init__(self, count: int, preload: tuple[str, ...]) -> None:
        self._all = [HelperProcess(preload) for _ in range(count)]

    @property
    def ready(self) -> bool:
        return all(helper.ready for helper in self._all)

    def start(self) -> None:
        """Start those not running (none at first, or one that died)."""
        for helper in self._all:
            helper.start()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """HelperUnavailable while none is ready (each call starts those not running)."""
        self.start()
        ready = [helper for helper in self._all if helper.ready]
        if not ready:
            raise HelperUnavailable("the helper processes are starting")
        return await min(ready, key=lambda helper: len(helper.waiting)).run(fn, *args)

    async def close(self) -> None:
        for helper in self._all:
            await helper.close()


async def _read_frame(stream: asyncio.StreamReader) -> Any:
    size = int.from_bytes(await stream.readexactly(HEADER), "little")
    return pickle.loads(await stream.readexactly(size))


def _frame(value: Any) -> bytes:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return len(payload).to_bytes(HEADER, "little") + payload


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """Answer each pickled (fn, args) with (True, result) or (False, exception) until the input ends."""
    while header := requests.read(HEADER):
        fn, args = pickle.loads(requests.read(int.from_bytes(header, "little")))
        try:
            answer = _frame((True, fn(*args)))
        except Exception as error:  # noqa: BLE001 - handed back to the caller
            answer = _error_frame(error)
        answers.write(answer)
        answers.flush()


def _error_frame(error: Exception) -> bytes:
    try:
        return _frame((False, error))
    except Exception:  # noqa: BLE001 - an exception that does not pickle still reaches the caller
        return _frame((False, RuntimeError(f"{type(error).__name__}: {error}")))


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which then closes this
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print goes to stderr, never into the answers
    for module in sys.argv[1:]:
        importlib.import_module(module)
    answers.write(_frame("ready"))
    answers.flush()
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
