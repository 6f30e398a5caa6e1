"""``/health``: liveness, version and the size of the log."""

from __future__ import annotations

from fastapi import APIRouter

from mintloom import __version__
from mintloom.api.deps import LogDep, SettingsDep
from mintloom.api.models import HealthOut

router = APIRouter(tags=["meta"])


@router.get("/health")
def health(log: LogDep, settings: SettingsDep) -> HealthOut:
    """Liveness, version and the size of the transparency log (public: never the workspace path)."""
    log.refresh()
    cp = log.latest_checkpoint()
    return HealthOut(
        version=__version__,
        log_size=log.size,
        checkpoint_size=None if cp is None else cp.size,
        offline=settings.offline,
    )
