"""The embedded chain: an anvil node started, reused and stopped by mintloom.

anvil (npm ``@foundry-rs/anvil``) listens on loopback only, on a free port unless one is
configured, and persists its whole state with ``--state`` under the workspace; with
``--state-interval 1`` a killed node loses at most about a second of blocks. The node runs
in its own session so it outlives the command that started it and is reused by the next
one; :meth:`AnvilNode.stop` signals it by its own pid (checked to still be anvil) so state is
dumped on the way out.

Start is crash-safe: the pid is recorded right after the spawn, before waiting for the RPC, and
every start looks (in ``/proc``) for anvil processes on this workspace's state file — one a
killed command left behind is adopted, any other is killed — so two nodes never rewrite the same
state file. Blocks a killed node did not persist are replayed from the journal by the client.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mintloom.errors import NodeError
from mintloom.faults import crash_point
from mintloom.logs import get_logger
from mintloom.resources import source_tree
from mintloom.store.files import pid_alive

log = get_logger(__name__)

ENV_ANVIL = "MINTLOOM_ANVIL"
DEV_CHAIN_ID = 31337
# anvil's deterministic dev mnemonic ("test test ... junk") account 0; only for the embedded node.
ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


def dev_key(index: int) -> str:
    """Private key of anvil's funded development account ``index`` (public, for local chains only)."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    acct = Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return "0x" + bytes(acct.key).hex()


def _platform_package(tool: str) -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    system = {"linux": "linux", "darwin": "darwin", "windows": "win32"}.get(platform.system().lower(), "")
    return f"{tool}-{system}-{arch}"


ANVIL_INSTALL_HINT = (
    "install anvil: `npm install -g @foundry-rs/anvil` (puts `anvil` on PATH) or Foundry's "
    "`foundryup` (https://getfoundry.sh); or set MINTLOOM_ANVIL to the anvil binary; "
    "or point chain.rpc_url at another node. In a mintloom checkout `make setup` installs it"
)


def _npm_platform_binary(tool: str, start: Path) -> Path | None:
    """The binary of ``@foundry-rs/<tool>-<platform>`` in a node_modules at or above ``start``."""
    exe = tool + (".exe" if os.name == "nt" else "")
    for d in (start, *start.parents):
        cand = d / "node_modules" / "@foundry-rs" / _platform_package(tool) / "bin" / exe
        if cand.is_file():
            return cand
    return None


def _unwrap_npm(found: Path, tool: str) -> Path:
    """`npm install -g` puts a node wrapper (``bin.mjs``) on PATH: use the platform binary it would
    spawn, so the node's pid is anvil's own (checked before reuse and stop) and signals reach it."""
    wrapper = found.resolve()
    if wrapper.name != "bin.mjs":
        return found
    exe = tool + (".exe" if os.name == "nt" else "")
    package = wrapper.parent  # .../@foundry-rs/<tool>
    for cand in (
        package / "node_modules" / "@foundry-rs" / _platform_package(tool) / "bin" / exe,  # nested
        package.parent / _platform_package(tool) / "bin" / exe,  # hoisted
    ):
        if cand.is_file():
            return cand
    return found


def find_foundry_tool(tool: str, env_var: str | None = None) -> Path | None:
    """Locate a Foundry binary: ``$env_var``; the npm platform package in the mintloom checkout
    or in a node_modules at or above the current folder; PATH (``npm install -g``); foundryup's
    ``~/.foundry/bin``."""
    if env_var and (explicit := os.environ.get(env_var)):
        p = Path(explicit)
        return p if p.is_file() else None
    for start in (source_tree(), Path.cwd().resolve()):
        if start is not None and (found := _npm_platform_binary(tool, start)) is not None:
            return found
    if on_path := shutil.which(tool):
        return _unwrap_npm(Path(on_path), tool)
    foundryup = Path.home() / ".foundry" / "bin" / tool
    return foundryup if foundryup.is_file() else None


def tool_version(binary: Path) -> str:
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=20, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise NodeError(f"{binary} --version failed: {exc}") from exc
    first = out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""
    return first.split("Version:")[-1].strip() if "Version:" in first else first


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpc_call(url: str, method: str, params: list[Any] | None = None, timeout: float = 2.0) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        payload = json.loads(resp.read())
    if "error" in payload:
        raise NodeError(f"{method} failed on {url}: {payload['error']}")
    return payload["result"]


def _pid_is_anvil(pid: int) -> bool:
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            return "anvil" in cmdline.read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            return False
    return pid_alive(pid)  # no procfs (macOS): trust the pid file


@dataclass(frozen=True)
class NodeInfo:
    pid: int
    port: int
    rpc_url: str
    state_file: str
    chain_id: int


class AnvilNode:
    """Manage one anvil process for a workspace's ``chain_dir``."""

    def __init__(
        self,
        chain_dir: Path,
        *,
        port: int | None = None,
        state_interval: int = 1,
        binary: Path | None = None,
        chain_id: int = DEV_CHAIN_ID,
        start_timeout: float = 30.0,
    ) -> None:
        self.chain_dir = chain_dir
        self.port = port
        self.state_interval = state_interval
        self._binary = binary
        self.chain_id = chain_id
        self.start_timeout = start_timeout

    # -- files --------------------------------------------------------------------------------
    @property
    def info_file(self) -> Path:
        return self.chain_dir / "node.json"

    @property
    def state_file(self) -> Path:
        return self.chain_dir / "anvil-state.json"

    @property
    def log_file(self) -> Path:
        return self.chain_dir / "anvil.log"

    def binary(self) -> Path:
        b = self._binary or find_foundry_tool("anvil", ENV_ANVIL)
        if b is None:
            if explicit := os.environ.get(ENV_ANVIL):
                raise NodeError(
                    f"anvil not found: {ENV_ANVIL}={explicit} is not a file", hint=ANVIL_INSTALL_HINT
                )
            raise NodeError("anvil not found: the embedded chain needs it", hint=ANVIL_INSTALL_HINT)
        return b

    def _read_info(self) -> NodeInfo | None:
        try:
            return NodeInfo(**json.loads(self.info_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    # -- lifecycle ----------------------------------------------------------------------------
    def running(self) -> NodeInfo | None:
        """The node of this workspace if its process is alive, is anvil and answers RPC."""
        info = self._read_info()
        if info is None or not _pid_is_anvil(info.pid):
            return None
        try:
            rpc_call(info.rpc_url, "eth_chainId")
        except (OSError, NodeError, urllib.error.URLError, ValueError):
            return None
        return info

    def start(self) -> NodeInfo:
        """Start anvil (or reuse the running one) and wait until its RPC answers."""
        if (info := self._adopt()) is not None:
            log.debug("reusing anvil", extra={"pid": info.pid, "port": info.port})
            return info
        binary = self.binary()
        try:
            self.chain_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NodeError(f"cannot create chain directory {self.chain_dir}: {exc}") from exc
        port = self.port or free_port()
        args = self._anvil_args(binary, port)
        # anvil --state loads the file only if it exists and is valid; a truncated file from a
        # crash is kept aside instead of silently discarded.
        self._quarantine_bad_state()
        proc = self._spawn(args)
        url = f"http://127.0.0.1:{port}"
        self._write_info(NodeInfo(proc.pid, port, url, str(self.state_file), self.chain_id))
        crash_point("node-spawned")
        got = self._wait_ready(proc, url)
        info = NodeInfo(proc.pid, port, url, str(self.state_file), got)
        self._write_info(info)
        log.info("anvil started", extra={"pid": proc.pid, "url": url})
        return info

    def _anvil_args(self, binary: Path, port: int) -> list[str]:
        # one flag and its value per line: kept by hand, a formatter would put each on its own line
        return [
            str(binary),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--chain-id", str(self.chain_id),
            "--state", self._state_arg(),
            "--state-interval", str(self.state_interval),
            "--gas-limit", "60000000",
        ]  # fmt: skip

    def _spawn(self, args: list[str]) -> subprocess.Popen[bytes]:
        """Launch anvil detached (own session), its output appended to the node log."""
        try:
            with self.log_file.open("ab") as logf:
                return subprocess.Popen(
                    args,
                    stdout=logf,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    cwd=self.chain_dir,
                )
        except OSError as exc:
            raise NodeError(f"cannot start anvil ({args[0]}): {exc}") from exc

    def _state_arg(self) -> str:
        return str(self.state_file.absolute())

    def _write_info(self, info: NodeInfo) -> None:
        tmp = self.info_file.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(info.__dict__))
            tmp.replace(self.info_file)
        except OSError as exc:
            raise NodeError(f"cannot record the node in {self.info_file}: {exc}") from exc

    def _wait_ready(self, proc: subprocess.Popen[bytes], url: str) -> int:
        """The chain id once ``url`` answers; a node that exits or never answers is stopped."""
        deadline = time.monotonic() + self.start_timeout
        while True:
            if proc.poll() is not None:
                with contextlib.suppress(FileNotFoundError):
                    self.info_file.unlink()
                raise NodeError(
                    f"anvil exited with code {proc.returncode} during start-up; see {self.log_file}",
                    hint="is the port taken, or the state file unreadable?",
                )
            if (got := _answers(url)) is not None:
                return got
            if time.monotonic() > deadline:
                self._terminate(proc.pid)
                with contextlib.suppress(FileNotFoundError):
                    self.info_file.unlink()
                raise NodeError(f"anvil did not answer on {url} within {self.start_timeout:.0f}s")
            time.sleep(0.05)

    def _adopt(self) -> NodeInfo | None:
        """The node already serving this workspace's state file — the recorded one, or one a
        command killed during start-up left behind — after killing every other anvil on it."""
        found = _anvils_on(self._state_arg())
        if found is None:  # no procfs: trust the pid file
            return self.running()
        recorded = self._read_info()
        found.sort(key=lambda pp: pp[0] != (recorded.pid if recorded else None))
        chosen: NodeInfo | None = None
        for pid, port in found:
            if chosen is None and port is not None:
                url = f"http://127.0.0.1:{port}"
                if (got := self._await_orphan(pid, url)) is not None:
                    chosen = NodeInfo(pid, port, url, str(self.state_file), got)
                    continue
            log.warning("killing a stray anvil on this workspace's state file", extra={"pid": pid})
            _kill(pid)
        if chosen is not None:
            self._kill_others(chosen.pid)
        if chosen is not None and chosen != recorded:
            log.warning("adopting an anvil left running on this workspace", extra={"pid": chosen.pid})
            self._write_info(chosen)
        return chosen

    def _kill_others(self, keep: int | None, rounds: int = 3) -> bool:
        """Kill every anvil on this workspace's state file but ``keep``, looking again for one a
        look missed or that outlived its kill (seen in CI under load: a second stray still served
        the state file after adoption). True if there was any."""
        killed = False
        for _ in range(rounds):
            others = [p for p, _ in _anvils_on(self._state_arg()) or [] if p != keep]
            if not others:
                break
            for pid in others:
                log.warning("killing a stray anvil on this workspace's state file", extra={"pid": pid})
                _kill(pid)
            killed = True
        return killed

    def _await_orphan(self, pid: int, url: str) -> int | None:
        """The chain id of a found anvil once it answers (it may still be starting up)."""
        deadline = time.monotonic() + self.start_timeout
        while _reap_or_alive(pid):
            if (got := _answers(url)) is not None:
                return got
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)
        return None

    def stop(self, timeout: float = 15.0) -> bool:
        """Stop the node by its own pid; anvil writes its state on SIGTERM. Any other anvil on
        this workspace's state file is killed first. True if a node was stopped."""
        info = self._read_info()
        pid = info.pid if info is not None and _pid_is_anvil(info.pid) else None
        stray = self._kill_others(pid)
        if pid is not None:
            self._terminate(pid, timeout)
        stopped = pid is not None or stray
        with contextlib.suppress(FileNotFoundError):
            self.info_file.unlink()
        return stopped

    def _terminate(self, pid: int, timeout: float = 15.0) -> None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _reap_or_alive(pid):
                return
            time.sleep(0.05)
        log.warning("anvil ignored SIGTERM, killing", extra={"pid": pid})
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _reap_or_alive(pid)

    def _quarantine_bad_state(self) -> None:
        if not self.state_file.exists():
            return
        try:
            with self.state_file.open("rb") as f:
                json.load(f)
        except ValueError:
            bad = self.state_file.with_suffix(f".corrupt-{int(time.time())}.json")
            self.state_file.replace(bad)
            raise NodeError(
                f"anvil state file {self.state_file} is not valid JSON; moved to {bad}",
                hint="restore it from a backup or start with a fresh chain (contracts must be redeployed)",
            ) from None
        except OSError as exc:
            raise NodeError(f"cannot read anvil state {self.state_file}: {exc}") from exc


def _answers(url: str) -> int | None:
    """The chain id served at ``url``, or None if nothing answers (yet)."""
    try:
        return int(rpc_call(url, "eth_chainId", timeout=1.0), 16)
    except (OSError, NodeError, urllib.error.URLError, ValueError):
        return None


def _flag(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args[:-1] else None


def _anvils_on(state: str) -> list[tuple[int, int | None]] | None:
    """(pid, port) of every live anvil whose ``--state`` is ``state``; None without procfs."""
    proc = Path("/proc")
    if not (proc / "self" / "cmdline").exists():
        return None
    found: list[tuple[int, int | None]] = []
    for d in proc.iterdir():
        if not d.name.isdigit():
            continue
        try:
            args = [a.decode(errors="replace") for a in (d / "cmdline").read_bytes().split(b"\0")]
        except OSError:
            continue
        if not args or "anvil" not in Path(args[0]).name or _flag(args, "--state") != state:
            continue
        if not _reap_or_alive(int(d.name)):
            continue
        port = _flag(args, "--port")
        found.append((int(d.name), int(port) if port and port.isdigit() else None))
    return found


def _kill(pid: int) -> None:
    """SIGKILL (no state dump over the file another node owns) and reap ``pid``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30  # a loaded machine may take seconds to tear down its threads
    while _reap_or_alive(pid):
        if time.monotonic() > deadline:
            log.warning("a killed anvil is still running", extra={"pid": pid})
            return
        time.sleep(0.02)


def _reap_or_alive(pid: int) -> bool:
    """Reap ``pid`` if it is our zombie child; True while it is still running."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    if not pid_alive(pid):
        return False
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return pid_alive(pid)
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    state = fields.get("State", "R").strip()[:1]
    return state not in ("Z", "X") and not _kill_pending(fields)


def _kill_pending(status: dict[str, str]) -> bool:
    """SIGKILL is queued: the process never runs user code again, it is only being torn down."""
    bit = 1 << (signal.SIGKILL - 1)
    for key in ("SigPnd", "ShdPnd"):
        with contextlib.suppress(ValueError):
            if int(status.get(key, "0"), 16) & bit:
                return True
    return False
