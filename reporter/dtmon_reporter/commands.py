"""CLI subcommands `agent`, `run-tests`, `upload-junit` and `demo`; backend/cli.py calls `register(subparsers)`."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import socket
import sys
import threading
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from dtmon_reporter import run_results, run_tests

HARDWARE_HELP = "cpu cuda rocm mps openvino qnn webgpu webnn"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the worker-side subcommands to the backend's argparse tree."""
    _add_agent(subparsers)
    _add_run_tests(subparsers)
    _add_upload_junit(subparsers)
    _add_demo(subparsers)


def _backend_flags(parser: argparse.ArgumentParser, required: bool = True) -> None:
    need = " (required)" if required else ""
    parser.add_argument("--url", help=f"backend URL, e.g. http://127.0.0.1:8050; default $DTMON_URL{need}")
    parser.add_argument("--token", help=f"token with the ingest role; default $DTMON_TOKEN{need}")


def _backend(args: argparse.Namespace, required: bool = True) -> tuple[str, str] | None:
    """Flags win over DTMON_URL / DTMON_TOKEN; read here, at the entry point, and passed down."""
    url, token = args.url or os.environ.get("DTMON_URL"), args.token or os.environ.get("DTMON_TOKEN")
    if url and token:
        return url, token
    if required:
        raise SystemExit("error: give --url and --token (or set DTMON_URL and DTMON_TOKEN)")
    return None


def _on_signals(stop: threading.Event) -> None:
    """SIGINT and SIGTERM both mean 'finish cleanly'."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())


# -- agent -----------------------------------------------------------------------------
def _add_agent(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("agent", help="report this host's hardware and load to the backend",
                                   description="Registers this host, then sends a heartbeat every interval. "
                                   "While the backend is down, samples are buffered (oldest dropped first).")
    _backend_flags(parser)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between heartbeats (default 5)")
    parser.add_argument("--worker-id", help="id on the dashboard (default: the host name)")
    parser.add_argument("--buffer", type=int, default=10_000, help="events kept while the backend is down")
    parser.add_argument("--no-browser-probe", action="store_true", help="skip the WebGPU/WebNN browser probe")
    parser.set_defaults(func=run_agent)


def run_agent(args: argparse.Namespace) -> int:
    from dtmon_reporter.agent import HostAgent
    from dtmon_reporter.client import MonitoringClient
    from dtmon_reporter.hardware import detect_cached

    url, token = _backend(args)
    client = MonitoringClient(url, token, buffer_size=args.buffer)
    agent = HostAgent(client, detect_cached(not args.no_browser_probe), worker_id=args.worker_id,
                      interval_s=args.interval)
    stop = threading.Event()
    _on_signals(stop)
    print(f"dtmon agent: {agent.worker_id} ({', '.join(agent.report.hardware)}) -> {client.base_url}", flush=True)
    agent.run(stop)
    print(f"dtmon agent: stopped; sent {client.sent}, dropped {client.dropped}, undelivered {client.pending}")
    return 0


# -- run-tests -------------------------------------------------------------------------
def _add_run_tests(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run-tests", help="run a pytest suite on a Dask cluster, each test reported",
                                   description="Collects pytest node ids and runs them in chunks on the cluster's "
                                   "workers (one pytest session per worker, kept across its chunks), in pytest's "
                                   "rootdir; every test is its own task on the dashboard. Exit code 0 when all "
                                   "passed, 1 on failures, 2 on usage errors or tests that could not be collected "
                                   "or run.")
    parser.add_argument("paths", nargs="+", help="test files or directories, as given to pytest")
    parser.add_argument("--scheduler", default=os.environ.get("DASK_SCHEDULER_ADDRESS"),
                        help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (default $DASK_SCHEDULER_ADDRESS)")
    parser.add_argument("--hardware", action="append", default=[], help=f"required hardware ({HARDWARE_HELP})")
    parser.add_argument("--priority", type=int, default=0, help="higher runs first (default 0)")
    parser.add_argument("--type", choices=("test", "benchmark"), default="test")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per test before it is killed")
    parser.add_argument("--chunk-size", type=_positive_int, help="tests per Dask task (default: sized from the "
                        "number of tests and worker threads, shrinking towards the end of the run)")
    parser.add_argument("--isolate", action="store_true", help="a fresh interpreter for every test instead of "
                        "one pytest session per worker")
    parser.add_argument("--pytest-args", default="", help="extra pytest arguments, e.g. \"-k 'not slow'\"")
    parser.add_argument("--reruns", type=int, default=0, help="run failed or timed-out tests again up to N times; "
                        "each attempt is recorded (default 0)")
    _backend_flags(parser, required=False)
    parser.set_defaults(func=run_tests_command)


def run_tests_command(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    from distributed import Client

    if not args.scheduler:
        out("error: give --scheduler (or set DASK_SCHEDULER_ADDRESS)")
        return 2
    if args.reruns < 0:
        out("error: --reruns must be 0 or more")
        return 2
    backend = _backend(args, required=False)
    with Client(args.scheduler, timeout="30s") as client:
        _ensure_plugin(client, backend)
        if backend is None:
            return _run_suite(client, _run_options(args), out)
        return _run_reported(client, _run_options(args), out, backend)


def _run_reported(client: object, options: "run_tests.RunOptions", out: Callable[[str], None],
                  backend: tuple[str, str]) -> int:
    """With a backend: skip drained workers, forgive quarantined tests, send one test_result per attempt."""
    from dataclasses import replace

    from dtmon_reporter import run_tests
    from dtmon_reporter.client import MonitoringClient
    from dtmon_reporter.gitinfo import revision
    from dtmon_reporter.run_results import PlanError, ResultSender, allowed_workers, fetch_plan

    try:
        plan = fetch_plan(*backend)
    except PlanError as exc:
        out(f"error: {exc}")
        return 2
    workers = allowed_workers(client, plan.drained)
    if workers == []:
        out(f"error: every worker is drained ({', '.join(sorted(plan.drained))}); undrain one on the dashboard")
        return 2
    hardware = next((h for h in options.hardware if h != "cpu"), "cpu")
    options = replace(options, workers=workers, quarantined=lambda node_id: plan.is_quarantined(node_id, hardware))
    sender = MonitoringClient(*backend)
    results = ResultSender(sender, run_tests.new_run_id(), hardware, *revision(options.cwd))
    try:
        return _run_suite(client, options, out, results)
    finally:
        if not sender.close(30):
            out(f"warning: {sender.pending} test results could not be delivered to {backend[0]}")


def _run_options(args: argparse.Namespace) -> "run_tests.RunOptions":
    from dtmon_reporter import run_tests

    return run_tests.RunOptions(paths=args.paths, hardware=[h.lower() for h in args.hardware],
                                priority=args.priority, type=args.type, timeout_s=args.timeout,
                                pytest_args=shlex.split(args.pytest_args), reruns=args.reruns,
                                chunk_size=args.chunk_size, isolate=args.isolate)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _run_suite(client: object, options: "run_tests.RunOptions", out: Callable[[str], None],
               results: "run_results.ResultSender | None" = None) -> int:
    """Refuses hardware nobody offers, runs, prints each result (and sends it) and the summary."""
    from dtmon_reporter import run_tests

    def on_result(outcome: "run_tests.Outcome") -> None:
        mark = " (quarantined)" if outcome.quarantined and outcome.status in run_tests.FAILED else ""
        retry = f" (attempt {outcome.attempt})" if outcome.attempt > 1 else ""
        out(f"{outcome.status.upper():9} {outcome.node_id}{retry}{mark}")
        if results is not None:
            results.send(outcome.node_id, outcome.status, outcome.attempt, outcome.worker, outcome.seconds,
                         outcome.error)

    missing = run_tests.missing_hardware(client, options.hardware)
    if missing:
        out(f"error: no connected worker offers {', '.join(missing)} (start workers with the dtmon preload "
            "or --resources)")
        return 2
    try:
        summary = run_tests.run(client, options, on_result=on_result, run_id=results and results.run_id)
    except run_tests.CollectionError as exc:
        out(f"error: pytest could not collect the tests:\n{exc}")
        return 2
    out(summary.text())
    return summary.exit_code


def _ensure_plugin(client: object, backend: tuple[str, str] | None) -> None:
    """With --url/--token, installs the dashboard plugin on schedulers started without the preload."""
    if backend is None:
        return
    from dtmon_reporter.dask_plugin import DtmonSchedulerPlugin
    from dtmon_reporter.dask_worker import DtmonWorkerPlugin

    if not client.run_on_scheduler(lambda dask_scheduler: DtmonSchedulerPlugin.name in dask_scheduler.plugins):
        client.register_plugin(DtmonSchedulerPlugin(*backend), name=DtmonSchedulerPlugin.name)
        client.register_plugin(DtmonWorkerPlugin())


# -- upload-junit ----------------------------------------------------------------------
def _add_upload_junit(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("upload-junit", help="send a JUnit XML report from any test runner",
                                   description="Posts the file to POST /api/results/junit; the server parses it "
                                   "(each test case becomes one test result). Exit 0 when accepted, 1 when refused.")
    parser.add_argument("report", help="JUnit XML file, e.g. from pytest --junitxml=report.xml")
    parser.add_argument("--run-id", required=True, help="id of this test run (one per suite invocation)")
    parser.add_argument("--hardware", required=True, help=f"backend the tests ran on ({HARDWARE_HELP})")
    parser.add_argument("--worker-id", default=socket.gethostname(), help="machine that ran them (default: this host)")
    parser.add_argument("--commit", help="git commit of the suite (default: of the current directory's checkout)")
    parser.add_argument("--branch", help="git branch of the suite (default: of the current directory's checkout)")
    _backend_flags(parser)
    parser.set_defaults(func=upload_junit)


def upload_junit(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    import httpx

    from dtmon_reporter.client import normalise_base_url
    from dtmon_reporter.gitinfo import revision

    url, token = _backend(args)
    try:
        with open(args.report, "rb") as handle:
            body = handle.read()
    except OSError as exc:
        out(f"error: report: cannot read {args.report}: {exc.strerror}")
        return 2
    commit, branch = revision(os.getcwd())
    params = {"run_id": args.run_id, "worker_id": args.worker_id, "hardware": args.hardware.lower(),
              "commit": args.commit or commit, "branch": args.branch or branch}
    try:
        response = httpx.post(f"{normalise_base_url(url)}/api/results/junit", content=body, timeout=120,
                              params={key: value for key, value in params.items() if value},
                              headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"})
    except httpx.HTTPError as exc:
        out(f"error: cannot reach {url}: {type(exc).__name__}: {exc}")
        return 1
    if not response.is_success:
        out(f"error: the server refused the report: HTTP {response.status_code}: {response.text[:500]}")
        return 1
    out(f"uploaded {response.json()['accepted']} test results of run {args.run_id}")
    return 0


# -- demo ------------------------------------------------------------------------------
def _add_demo(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the bundled example suite on a local Dask cluster",
                                   description="Starts a local Dask cluster reporting to the backend and runs the "
                                   "bundled tests and benchmarks (some fail, for real reasons) until Ctrl-C.")
    _backend_flags(parser)
    parser.add_argument("--workers", type=int, default=3, help="local Dask workers (default 3)")
    parser.add_argument("--pause", type=float, default=15.0, help="seconds between rounds (default 15)")
    parser.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from dtmon_reporter.demo import DemoRunner

    url, token = _backend(args)
    runner = DemoRunner(url, token, workers=args.workers, pause_s=args.pause)
    stop = threading.Event()
    _on_signals(stop)
    runner.start()
    print(f"dtmon demo: {args.workers} workers reporting to {url}; Ctrl-C to stop", flush=True)
    while runner.running and not stop.wait(1.0):
        pass
    runner.stop()
    print(f"dtmon demo: stopped after {runner.rounds} round(s){'; ' + runner.error if runner.error else ''}")
    return 1 if runner.error else 0


def main(argv: list[str] | None = None) -> int:
    """`dtmon-reporter` / `python -m dtmon_reporter`: the worker-host commands without the server's packages."""
    parser = argparse.ArgumentParser(prog="dtmon-reporter", description="Report a host, a Dask cluster or a "
                                     "pytest run to the test fleet monitor.")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
