"""A real Prefect server, work pool and process worker on loopback, for the e2e tests.

One server serves the whole session. Every process started here runs with a
temporary PREFECT_HOME, no telemetry, the model hub offline, and HTTP(S)_PROXY
pointed at a loopback trap, so a request that tries to leave the machine is
recorded and fails the session instead of going out.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# The test process itself is made quiet, with a temporary PREFECT_HOME, by
# tests/conftest.py; these are repeated for every process started here.
QUIET_ENVIRONMENT = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}

REPO_ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
WORK_POOL = "qdrant-rebuild"
SERVER_START_TIMEOUT = 60.0
# A worker may ignore its first SIGTERM once the server is gone; past this it is
# killed.
STOP_GRACE_SECONDS = 10.0
TERMINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
UUID_PATTERN = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
# Seconds each step of the session took, printed after the run so a slow server
# start, deploy or flow run shows in CI logs without rerunning.
TIMINGS: dict[str, float] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        terminalreporter.write_sep("-", "e2e timings")
        for step, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{step:<44} {seconds:6.1f} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OutboundTrap:
    """A loopback listener used as every process's proxy; records what tried to go out.

    Clients that honour HTTP(S)_PROXY (httpx, requests, huggingface_hub) send each
    outside request here first; the trap answers 403 and keeps the request line.
    """

    def __init__(self) -> None:
        self.attempts: list[str] = []
        trap = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                line = self.rfile.readline(4096).decode("latin-1").strip()
                if line:
                    trap.attempts.append(line)
                self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> OutboundTrap:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group started with the process, then SIGKILL it if late."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_GRACE_SECONDS)


def tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return f"({path} was never written)"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


@dataclass
class PrefectServer:
    """A running ``prefect server start`` and the environment that reaches it."""

    api_url: str
    home: Path
    env: dict[str, str]
    log: Path
    startup_seconds: float
    trap: OutboundTrap
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def prefect(
        self,
        *args: str,
        cwd: Path = REPO_ROOT,
        env: dict[str, str] | None = None,
        timeout: float = 180.0,
    ) -> subprocess.CompletedProcess[str]:
        """``prefect --no-prompt ARGS`` against this server; fails with its output."""
        result = subprocess.run(
            [PREFECT, "--no-prompt", *args],
            cwd=cwd,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(
                f"prefect {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def spawn(
        self, args: list[str], log: Path, cwd: Path = REPO_ROOT
    ) -> subprocess.Popen[bytes]:
        """Start a long-running process in its own process group, logged to a file."""
        with log.open("wb") as out:
            process = subprocess.Popen(
                args,
                cwd=cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def client(self) -> Any:
        from prefect.client.orchestration import SyncPrefectClient

        return SyncPrefectClient(self.api_url)

    def run_deployment(self, name: str, parameters: dict[str, str]) -> str:
        """``prefect deployment run NAME --param k=v``; the new flow run's id."""
        params = [f"--param={key}={value}" for key, value in parameters.items()]
        result = self.prefect("deployment", "run", name, *params)
        match = UUID_PATTERN.search(result.stdout)
        assert match, f"no flow run id in:\n{result.stdout}"
        return match.group(0)

    def run_and_wait(
        self, name: str, parameters: dict[str, str], timeout: float
    ) -> Any:
        """Run a deployment and wait for its flow run to end; the final flow run."""
        started = time.monotonic()
        flow_run_id = self.run_deployment(name, parameters)
        flow_run = self.wait_for_flow_run(flow_run_id, timeout)
        label = f"run {name} (to {flow_run.state.type.value})"
        runs = sum(1 for step in TIMINGS if step.startswith(label))
        TIMINGS[f"{label} #{runs + 1}"] = time.monotonic() - started
        return flow_run

    def wait_for_flow_run(self, flow_run_id: str, timeout: float) -> Any:
        """Poll the flow run until it ends; on a timeout, fail with its logs."""
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while True:
                flow_run = client.read_flow_run(flow_run_id)
                state = flow_run.state.type.value if flow_run.state else "NONE"
                if state in TERMINAL_STATES:
                    return flow_run
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"flow run {flow_run_id} still {state} after {timeout:.0f} s\n"
                        + self.describe_flow_run(flow_run_id)
                    )
                time.sleep(0.5)

    def artifacts_of(self, flow_run_id: Any) -> list[Any]:
        """The artifacts a flow run published, oldest first."""
        from prefect.client.schemas.filters import (
            ArtifactFilter,
            ArtifactFilterFlowRunId,
        )

        with self.client() as client:
            return client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])
                )
            )

    def describe_flow_run(self, flow_run_id: str) -> str:
        """The flow run's own log lines and the workers' log tails, for a failure."""
        from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

        with self.client() as client:
            logs = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
            )
        lines = [f"{log.level} {log.message}" for log in logs]
        workers = [
            f"--- {path.name}\n{tail(path)}" for path in sorted(self.home.glob("*.log"))
        ]
        return "flow run logs:\n" + "\n".join(lines) + "\n" + "\n".join(workers)


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """``prefect server start`` on a free loopback port with its own SQLite file."""
    home = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    with OutboundTrap() as trap:
        env = _server_environment(home, port, trap.url)
        server = PrefectServer(
            api_url=f"http://127.0.0.1:{port}/api",
            home=home,
            env=env,
            log=home / "server.log",
            startup_seconds=0.0,
            trap=trap,
        )
        started = time.monotonic()
        process = server.spawn(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            log=server.log,
        )
        try:
            _wait_until_healthy(server, process)
            server.startup_seconds = time.monotonic() - started
            TIMINGS["server start"] = server.startup_seconds
            yield server
        finally:
            # Workers first: with the server gone they retry instead of exiting.
            for other in reversed(server.processes):
                if other is not process:
                    stop_process(other)
            stop_process(process)
        assert not trap.attempts, (
            f"processes of the e2e session tried to leave the machine: {trap.attempts}"
        )


@pytest.fixture(scope="session")
def work_pool(prefect_server: PrefectServer) -> str:
    """The process work pool the deployments name, made through the API.

    ``prefect work-pool create`` asks the server for the integrations registry,
    which the server fetches from the internet; the API call does not.
    """
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.workers.process import ProcessWorker

    with prefect_server.client() as client:
        client.create_work_pool(
            WorkPoolCreate(
                name=WORK_POOL,
                type="process",
                base_job_template=ProcessWorker.get_default_base_job_template(),
            )
        )
    return WORK_POOL


@pytest.fixture(scope="session")
def worker(prefect_server: PrefectServer, work_pool: str) -> Iterator[str]:
    """A process worker polling the pool every second; stopped before the server."""
    name = "e2e-worker"
    log = prefect_server.home / "worker.log"
    started = time.monotonic()
    process = prefect_server.spawn(
        [PREFECT, "worker", "start", "--pool", work_pool, "--name", name],
        log=log,
    )
    try:
        _wait_until_worker_polls(prefect_server, process, work_pool, name, log)
        TIMINGS["worker start"] = time.monotonic() - started
        yield name
    finally:
        stop_process(process)


@pytest.fixture(scope="session")
def deployed(prefect_server: PrefectServer, work_pool: str) -> dict[str, Any]:
    """Every deployment of the repository's prefect.yaml, by ``prefect deploy --all``.

    Deployed from the repository root, so the pull step points workers at this
    checkout; the deployments are read back through the API.
    """
    started = time.monotonic()
    prefect_server.prefect("deploy", "--all")
    TIMINGS["prefect deploy --all"] = time.monotonic() - started
    with prefect_server.client() as client:
        deployments = client.read_deployments()
        flows = {flow.id: flow.name for flow in client.read_flows()}
    return {f"{flows[d.flow_id]}/{d.name}": d for d in deployments}


def _server_environment(home: Path, port: int, proxy: str) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        # The caller's own Prefect profile, API, Qdrant or proxies must not leak in.
        if not name.startswith(("PREFECT_", "QDRANT_", "OLD_QDRANT_"))
        and "proxy" not in name.lower()
    }
    return {
        **inherited,
        **QUIET_ENVIRONMENT,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home}/prefect.db",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "HTTP_PROXY": proxy,
        "HTTPS_PROXY": proxy,
        "ALL_PROXY": proxy,
        "http_proxy": proxy,
        "https_proxy": proxy,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def _wait_until_healthy(
    server: PrefectServer, process: subprocess.Popen[bytes]
) -> None:
    import httpx

    deadline = time.monotonic() + SERVER_START_TIMEOUT
    with httpx.Client(trust_env=False, timeout=2.0) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(
                    f"prefect server exited {process.returncode}:\n{tail(server.log)}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if http.get(f"{server.api_url}/health").status_code == 200:
                    return
            time.sleep(0.25)
    pytest.fail(f"prefect server not healthy after {SERVER_START_TIMEOUT} s")


def _wait_until_worker_polls(
    server: PrefectServer,
    process: subprocess.Popen[bytes],
    pool: str,
    name: str,
    log: Path,
) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    with server.client() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"worker exited {process.returncode}:\n{tail(log)}")
            workers = client.read_workers_for_work_pool(pool)
            if any(w.name == name for w in workers):
                return
            time.sleep(0.5)
    pytest.fail(f"worker {name} never polled {pool}:\n{tail(log)}")
