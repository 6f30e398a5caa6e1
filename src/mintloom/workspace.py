"""A workspace: a folder with ``mintloom.toml`` and the ``.mintloom/`` state directory.

Layout::

    mintloom.toml          configuration
    .mintloom/catalog.db   SQLite catalog (unless database_url points elsewhere)
    .mintloom/blobs/       content-addressed blob store (CIDv1)
    .mintloom/keys/        CA, signer certificates, encrypted private keys, chain account
    .mintloom/chain/       anvil state, node pid/port, deployed contract addresses per chain id
    out/                   exported assets of campaign runs
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mintloom.config import CONFIG_FILE, DEFAULT_CONFIG, Settings, load_settings
from mintloom.errors import WorkspaceError

STATE_DIR = ".mintloom"
ENV_WORKSPACE = "MINTLOOM_WORKSPACE"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def config_file(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def blobs_dir(self) -> Path:
        return self.state_dir / "blobs"

    @property
    def keys_dir(self) -> Path:
        return self.state_dir / "keys"

    @property
    def chain_dir(self) -> Path:
        return self.state_dir / "chain"

    @property
    def out_dir(self) -> Path:
        return self.root / "out"

    @property
    def catalog_path(self) -> Path:
        return self.state_dir / "catalog.db"

    def settings(self) -> Settings:
        return load_settings(self.config_file)

    def database_url(self, settings: Settings | None = None) -> str:
        s = settings or self.settings()
        return s.database_url or f"sqlite:///{self.catalog_path}"

    @classmethod
    def init(cls, root: Path) -> Workspace:
        """Create (or complete) a workspace at ``root``; never overwrites an existing config."""
        root = root.resolve()
        try:
            root.mkdir(parents=True, exist_ok=True)
            ws = cls(root)
            for d in (ws.state_dir, ws.blobs_dir, ws.keys_dir, ws.chain_dir, ws.out_dir):
                d.mkdir(parents=True, exist_ok=True)
            ws.keys_dir.chmod(0o700)
            if not ws.config_file.exists():
                ws.config_file.write_text(DEFAULT_CONFIG, encoding="utf-8")
        except OSError as exc:
            raise WorkspaceError(f"cannot create workspace at {root}: {exc}") from exc
        return ws

    @classmethod
    def find(cls, start: Path | None = None) -> Workspace:
        """The workspace named by ``$MINTLOOM_WORKSPACE`` or the nearest one above ``start``."""
        env = os.environ.get(ENV_WORKSPACE)
        if env:
            ws = cls(Path(env).resolve())
            if not ws.config_file.is_file():
                raise WorkspaceError(
                    f"{ENV_WORKSPACE}={env} is not a workspace (no {CONFIG_FILE})",
                    hint=f"run `mintloom init {env}`",
                )
            return ws
        here = (start or Path.cwd()).resolve()
        for d in (here, *here.parents):
            if (d / CONFIG_FILE).is_file():
                return cls(d)
        raise WorkspaceError(
            f"no mintloom workspace in {here} or above", hint="run `mintloom init` to create one"
        )
