"""The benchmarks' shared harness: fair comparisons, request counts, result files.

Every comparison in ``bench/`` goes through :func:`compare`, so that no bench can
flatter one side:

* each side is a :class:`Side`: a **command run as a whole process** (timed from
  outside, start-up included: what a user waits for) or a **callable** (in-process,
  for library calls), with its parallelism stated in words (``parallelism=``);
* the sides run **interleaved** (A, B, C, A, B, C, ...), after one untimed warm-up
  each unless told otherwise, so a noisy neighbour on the shared machine slows all
  sides alike;
* each side reports the **best** and the **median** of N runs (best is the stable
  figure on a shared machine, as ``timeit`` says; the median shows the spread);
* S3 **request counts** come from botocore (callables: :func:`counting_requests`)
  or from the server's own request log (processes: :class:`LoggedMotoServer`), so
  the AWS CLI, rclone and mediahub are counted the same way.

:func:`write_results` writes a bench's Markdown to ``bench/results/<name>.md`` with a
first line saying machine, command and date; the README and the docs quote those
files verbatim (``tests/test_bench_results.py``).

    from _common import Side, compare, results_table, write_results

    timings = compare([Side("ours", ["prog", "a"]), Side("theirs", fn)], rounds=9)
    write_results("mine", "## Mine\\n\\n" + results_table(timings))
"""

from __future__ import annotations

import datetime
import gc
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

from mediahub.testing.requests import RequestCounter, counting_requests  # noqa: E402, F401
from mediahub.testing.s3server import MotoServer  # noqa: E402


def setup_django() -> None:
    import django

    django.setup()


def fill(client, bucket: str, keys: list[str], jobs: int = 32) -> None:
    """Create ``keys`` (tiny bodies) with many parallel PUTs."""

    def put(key: str) -> None:
        client.put_object(Bucket=bucket, Key=key, Body=b"x")

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(put, keys))


# -- the S3 server, with its request log --------------------------------------------------
class LoggedMotoServer(MotoServer):
    """moto's server as a child process whose request log is kept, to count requests.

    Every request a client makes, whatever the client (a botocore process, the AWS CLI,
    rclone), is one line of the server's log: ``mark()`` then ``requests_since(mark)``.
    """

    _LINE = re.compile(r'"(?:\x1b\[[0-9;]*m)*([A-Z]+) (\S+) HTTP/')

    def _stderr(self) -> Any:
        import tempfile

        self.log = tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log", delete=False)
        return self.log

    def stop(self) -> None:
        super().stop()
        log = getattr(self, "log", None)
        if log is not None:
            log.close()
            os.unlink(log.name)
            self.log = None

    def mark(self) -> int:
        """A position in the log (call before the requests to count)."""
        self.log.flush()
        return os.path.getsize(self.log.name)

    def requests_since(self, mark: int, settle: float = 0.2) -> RequestCounter:
        """Requests logged since ``mark``, by HTTP method (``counter["PUT"]``)."""
        time.sleep(settle)  # the server logs a request after answering it
        with open(self.log.name, "rb") as handle:
            handle.seek(mark)
            text = handle.read().decode("utf-8", "replace")
        counter = RequestCounter()
        for method, path in self._LINE.findall(text):
            if not path.startswith("/moto-api"):
                counter[method] += 1
        return counter


# -- timing ---------------------------------------------------------------------------------
@dataclass
class Side:
    """One side of a comparison.

    ``run`` is either a command (a list of strings: run as a process, timed from outside,
    its exit status checked) or a callable. ``before`` runs untimed before each timed run
    (e.g. to empty a bucket prefix so that every "first push" is a first push).
    ``parallelism`` says in words how many concurrent requests/processes the side uses.
    """

    name: str
    run: Sequence[str] | Callable[[], Any]
    parallelism: str = ""
    env: dict[str, str] | None = None
    cwd: str | None = None
    before: Callable[[], Any] | None = None

    @property
    def is_process(self) -> bool:
        return not callable(self.run)

    @property
    def command(self) -> str:
        if self.is_process:
            return shlex.join(str(part) for part in self.run)
        return getattr(self.run, "__qualname__", repr(self.run))

    def once(self) -> float:
        """One timed run, in seconds."""
        if self.before is not None:
            self.before()
        gc.collect()
        if self.is_process:
            start = time.perf_counter()
            done = subprocess.run(
                [str(part) for part in self.run],
                env=self.env,
                cwd=self.cwd,
                capture_output=True,
                check=False,
            )
            elapsed = time.perf_counter() - start
            if done.returncode:
                raise RuntimeError(
                    f"{self.name}: {self.command} exited with {done.returncode}:\n"
                    + done.stderr.decode("utf-8", "replace")[-3000:]
                )
            return elapsed
        start = time.perf_counter()
        self.run()
        return time.perf_counter() - start


@dataclass
class Timing:
    """The runs of one side."""

    side: Side
    seconds: list[float] = field(default_factory=list)
    requests: RequestCounter | None = None

    @property
    def name(self) -> str:
        return self.side.name

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def runs(self) -> int:
        return len(self.seconds)


def compare(
    sides: Sequence[Side],
    *,
    rounds: int = 5,
    warmup: int = 1,
    server: LoggedMotoServer | None = None,
    count: bool = True,
    verbose: bool = True,
) -> list[Timing]:
    """Run ``sides`` interleaved (A, B, A, B, ...) ``rounds`` times each; their timings.

    With ``count``, the requests of each side's first warm-up (or, without warm-up, its
    first timed run) are counted: from ``server``'s log when given (any client, processes
    included), else through botocore in this process (callables only).
    """
    timings = [Timing(side) for side in sides]

    def counted(timing: Timing) -> float:
        side = timing.side
        if server is not None:
            mark = server.mark()
            seconds = side.once()
            timing.requests = server.requests_since(mark)
        elif not side.is_process:
            with counting_requests() as requests:
                seconds = side.once()
            timing.requests = requests
        else:
            seconds = side.once()
        return seconds

    for index in range(max(warmup, 0)):
        for timing in timings:
            if index == 0 and count:
                counted(timing)
            else:
                timing.side.once()
    for index in range(rounds):
        for timing in timings:
            if index == 0 and count and not warmup:
                seconds = counted(timing)
            else:
                seconds = timing.side.once()
            timing.seconds.append(seconds)
    if verbose:
        for timing in timings:
            print(
                f"# {timing.name}: best {fmt_time(timing.best)}, median "
                f"{fmt_time(timing.median)} of {timing.runs}"
                + (f", {timing.requests.total:,} requests" if timing.requests is not None else ""),
                file=sys.stderr,
                flush=True,
            )
    return timings


def timed(func: Callable[[], Any], repeat: int = 3) -> float:
    """Best wall time of ``repeat`` runs of one callable, in seconds (no comparison)."""
    return min(Side("f", func).once() for _ in range(repeat))


# -- formatting -----------------------------------------------------------------------------
def fmt_time(seconds: float) -> str:
    """``1.23 s``, ``45.6 ms`` or ``789 µs``."""
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_requests(requests: RequestCounter | None) -> str:
    """``1,002 (1,000 PUT, 2 GET)``; ``-`` when not counted."""
    if requests is None:
        return "-"
    parts = ", ".join(f"{n:,} {op}" for op, n in requests.most_common())
    return f"{requests.total:,}" + (f" ({parts})" if parts else "")


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table, columns padded to their widest cell."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
    line = "| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    return "\n".join([line, sep, *body])


def results_table(timings: Sequence[Timing], *, baseline: int = 0, label: str | None = None) -> str:
    """The standard comparison table: one row per side, ratio to ``timings[baseline]``.

    The ratio column is ``this side's best / baseline's best`` (above 1: slower than the
    baseline). ``label`` adds a first column (e.g. the data set).
    """
    base = timings[baseline].best
    headers = [
        "side",
        "parallelism",
        "best",
        "median",
        "runs",
        "S3 requests",
        "time / " + timings[baseline].name,
    ]
    rows = []
    for timing in timings:
        rows.append(
            [
                timing.name,
                timing.side.parallelism or "-",
                fmt_time(timing.best),
                fmt_time(timing.median),
                timing.runs,
                fmt_requests(timing.requests),
                f"{timing.best / base:.2f}",
            ]
        )
    if label is not None:
        headers.insert(0, "case")
        rows = [[label, *row] for row in rows]
    return table(headers, rows)


# -- result files ---------------------------------------------------------------------------
def machine() -> str:
    """``Linux x86_64, 2 CPUs (model), Python 3.11.7``."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = " (" + " ".join(line.split(":", 1)[1].split()) + ")"
                    break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs{model}, "
        f"Python {platform.python_version()}"
    )


def write_results(name: str, markdown: str, *, command: str | None = None) -> Path:
    """Write ``bench/results/<name>.md``: a header line (machine, command, date), then
    ``markdown`` (tables and notes, verbatim). Also printed. Returns the path."""
    command = command or shlex.join([".venv/bin/python", *_script_argv()])
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    try:
        load = f", load average {os.getloadavg()[0]:.1f} at the end"  # a shared machine's noise
    except OSError:
        load = ""
    header = f"_Measured {today} on {machine()}{load}: `{command}`_"
    text = header + "\n\n" + markdown.strip() + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    print("\n" + text)
    print(f"(written to {path.relative_to(ROOT)})")
    return path


def _script_argv() -> list[str]:
    argv = list(sys.argv)
    try:
        argv[0] = str(Path(argv[0]).resolve().relative_to(ROOT))
    except ValueError:
        pass
    return argv
