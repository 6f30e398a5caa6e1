"""Configuration: ``mintloom.toml`` in the workspace, overridden by ``MINTLOOM_*`` environment variables.

Nested keys use a double underscore in the environment, e.g. ``MINTLOOM_CHAIN__RPC_URL``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from mintloom.errors import ConfigError

CONFIG_FILE = "mintloom.toml"


class _Section(BaseModel):
    """A settings table that refuses unknown keys but skips retired ones, so a ``mintloom.toml``
    written by an older ``mintloom init`` still loads."""

    model_config = ConfigDict(extra="forbid")
    retired: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _drop_retired(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in cls.retired}
        return data


class ChainSettings(_Section):
    retired: ClassVar[frozenset[str]] = frozenset({"confirmations"})

    rpc_url: str | None = Field(
        default=None, description="JSON-RPC URL; unset means the managed embedded anvil node"
    )
    private_key: str | None = Field(
        default=None,
        description="hex key of the account that sends transactions; unset means the workspace key "
        "(anvil's first dev account on the embedded node)",
    )
    anvil_port: int | None = Field(default=None, ge=1024, le=65535, description="fixed port, else free")
    state_interval: int = Field(default=1, ge=1, description="seconds between anvil state dumps")
    timeout_s: float = Field(default=60.0, gt=0)
    max_fee_gwei: float | None = Field(
        default=500.0,
        gt=0,
        description="EIP-1559 cap on the fee per gas; a chain asking more is refused (FeeCapError)",
    )
    log_page_blocks: int = Field(
        default=10_000,
        ge=1,
        description="blocks per eth_getLogs request (public RPCs limit ranges; halved when refused)",
    )

    @field_validator("rpc_url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://", "ws://", "wss://")):
            raise ValueError("rpc_url must start with http://, https://, ws:// or wss://")
        return v


class EngineSettings(_Section):
    retired: ClassVar[frozenset[str]] = frozenset({"openai_base_url", "openai_model", "transformers_path"})

    workers: int = Field(default=1, ge=1, le=256)
    executor: Literal["local", "ray"] = Field(
        default="local", description="where generation jobs run: a local process pool, or Ray (`[ray]`)"
    )


class RaySettings(_Section):
    """The Ray cluster of ``engine.executor = "ray"`` (the ``mintloom[ray]`` extra)."""

    address: str | None = Field(
        default=None,
        description='"auto" (the cluster this host belongs to), a ray:// URL, or unset: a local Ray '
        "that mintloom starts and stops, with num_cpus CPUs",
    )
    num_cpus: int | None = Field(
        default=None, ge=1, le=4096, description="CPUs of the local Ray; unset means engine.workers"
    )
    max_retries: int = Field(default=3, ge=0, le=100, description="retries of a job whose worker died")
    object_store_mb: int = Field(default=512, ge=64, description="object store of the local Ray (MiB)")

    @field_validator("address")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        if v is not None and v != "auto" and not v.startswith("ray://"):
            raise ValueError('address must be "auto" or a ray:// URL (unset: a local Ray)')
        return v


class ProvenanceSettings(_Section):
    retired: ClassVar[frozenset[str]] = frozenset({"batch_size"})

    signing_alg: str = Field(default="es256", pattern="^(es256|ed25519)$")
    organisation: str = "mintloom workspace"
    tsa_url: str | None = Field(
        default=None,
        description="RFC 3161 time-stamping authority that counter-signs every claim signature; "
        "unset means no trusted time (credentials then die with the signer certificate)",
    )
    tsa_roots: str | None = Field(
        default=None,
        description="PEM file (relative to the workspace) of the root certificates of the "
        "time-stamping authorities verify trusts",
    )

    @field_validator("tsa_url")
    @classmethod
    def _tsa_http(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("tsa_url must start with http:// or https://")
        return v


class BlobSettings(_Section):
    url: str | None = Field(
        default=None,
        pattern=r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/[^?#]*)?$",
        description="s3://bucket/prefix: blobs on an S3-compatible object store (mintloom[s3]); "
        "unset: .mintloom/blobs. Credentials come from the environment (AWS_ACCESS_KEY_ID, ...)",
    )
    endpoint_url: str | None = Field(
        default=None, pattern=r"^https?://", description="the S3-compatible server (unset: AWS S3)"
    )


class GovernanceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    standard_fee_wei: int = Field(
        default=10**16, ge=0, description="fee of the standard commercial licence flavours (0.01 ETH)"
    )
    royalty_bps: int = Field(default=500, ge=0, le=10_000, description="ERC-2981 royalty on resales")


class DynamicSettings(_Section):
    """Creatives rendered on request by ``mintloom serve`` (``POST /campaigns/{campaign}/render``)."""

    campaigns: dict[str, str] = Field(
        default_factory=dict, description="campaign name → its spec file, relative to the workspace"
    )
    rate_per_second: float = Field(default=50.0, gt=0, description="renders per second per token")
    burst: int = Field(default=100, ge=1, description="renders a token may send at once")
    anchor_every_seconds: float = Field(default=30.0, gt=0, description="anchor new leaves this often")
    anchor_every_leaves: int = Field(default=256, ge=1, description="or once this many are unanchored")
    anchorer: bool = Field(default=True, description="run the background anchorer inside `mintloom serve`")
    url_ttl: int = Field(default=7 * 86400, ge=1, description="seconds a `mintloom render-url` URL is valid")


class Settings(BaseSettings):
    """All settings of one workspace."""

    model_config = SettingsConfigDict(
        env_prefix="MINTLOOM_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )
    toml_file: ClassVar[Path | None] = None

    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; unset means SQLite at .mintloom/catalog.db"
    )
    log_level: str = Field(default="WARNING", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    chain: ChainSettings = ChainSettings()
    blobs: BlobSettings = BlobSettings()
    engine: EngineSettings = EngineSettings()
    ray: RaySettings = RaySettings()
    provenance: ProvenanceSettings = ProvenanceSettings()
    governance: GovernanceSettings = GovernanceSettings()
    dynamic: DynamicSettings = DynamicSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls.toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls.toml_file))
        return tuple(sources)


def load_settings(config_file: Path | None, **overrides: Any) -> Settings:
    """Load settings from ``config_file`` (if it exists) and the environment; errors become ConfigError."""
    path = config_file if config_file is not None and config_file.is_file() else None

    class _Bound(Settings):
        toml_file: ClassVar[Path | None] = path

    try:
        bound = _Bound(**overrides)
    except ValidationError as exc:
        where = str(config_file) if path else "environment"
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"invalid configuration ({where}): {problems}") from exc
    except (OSError, ValueError) as exc:  # unreadable or malformed TOML
        raise ConfigError(f"cannot read configuration {config_file}: {exc}") from exc
    return Settings.model_validate(bound.model_dump())


DEFAULT_CONFIG = """\
# mintloom workspace configuration. Every key can be overridden by an environment
# variable: MINTLOOM_<KEY>, nested with a double underscore (MINTLOOM_CHAIN__RPC_URL).

# database_url = "postgresql+psycopg://user@localhost/mintloom"   # default: SQLite in .mintloom/
log_level = "WARNING"

[chain]
# rpc_url = "http://127.0.0.1:8545"   # unset: mintloom starts and stops its own anvil node
# private_key = "0x..."               # unset: the workspace account (anvil dev account 0)
state_interval = 1

[engine]
workers = 1
# executor = "ray"          # default "local" (a process pool); "ray" needs mintloom[ray]

[ray]
# address = "auto"          # or "ray://head:10001"; unset: a local Ray started and stopped by mintloom
# num_cpus = 4              # CPUs of that local Ray (default: engine.workers)

[provenance]
signing_alg = "es256"
organisation = "mintloom workspace"
# tsa_url = "http://timestamp.digicert.com"   # unset: no RFC 3161 time-stamp on credentials
# tsa_roots = "tsa-roots.pem"                 # root certificates of the TSAs verify trusts

[governance]
standard_fee_wei = 10000000000000000   # 0.01 ETH for the standard commercial licences
royalty_bps = 500                      # ERC-2981 royalty on resales

[blobs]
# url = "s3://bucket/prefix"               # unset: blobs in .mintloom/blobs; S3 credentials: AWS_* env
# endpoint_url = "http://127.0.0.1:9000"   # an S3-compatible server (MinIO, Ceph...); unset: AWS S3
"""
