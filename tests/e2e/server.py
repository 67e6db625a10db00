"""A real ``batchyard serve --demo`` for the browser tests: the built dashboard, the API, two worker processes,
and the demo's users with the passwords it prints once."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.acceptance.helpers import batchyard_process, free_port, stop_group, subprocess_env, wait_for

_USER_LINE = re.compile(r"^\s+(\w+)\s+(admin|operator|viewer)\s+password (\S+)\s+token (\S+)", re.MULTILINE)


@dataclass
class DemoUser:
    name: str
    role: str
    password: str
    token: str


@dataclass
class DemoServer:
    url: str
    data_dir: Path
    users: dict[str, DemoUser]
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def http(self, user: str) -> httpx.Client:
        """The API as ``user``, for what a test sets up or checks behind the browser's back."""
        if user not in self.clients:
            headers = {"Authorization": f"Bearer {self.users[user].token}"}
            self.clients[user] = httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=30)
        return self.clients[user]

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


class Running:
    """Starts the server in ``directory`` and stops its whole process tree."""

    def __init__(self, directory: Path, workers: int = 2) -> None:
        self.directory = directory
        self.port = free_port()
        self.log = directory / "serve.log"
        env = subprocess_env(BATCHYARD_DATA_DIR=str(directory / "data"))
        args = ["serve", "--demo", "--port", str(self.port), "--workers", str(workers)]
        self.process = batchyard_process(args, env, self.log)

    def ready(self, timeout: float = 60) -> DemoServer:
        url = f"http://127.0.0.1:{self.port}"

        def answers() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"batchyard serve exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                return httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answers, timeout=timeout, what="batchyard serve to answer")
        users = {m[0]: DemoUser(*m) for m in _USER_LINE.findall(self.log.read_text(errors="replace"))}
        assert {"admin", "alice", "victor"} <= users.keys(), self.log.read_text(errors="replace")[-2000:]
        return DemoServer(url, self.directory / "data", users)

    def stop(self) -> None:
        stop_group(self.process)
        time.sleep(0.1)
