"""A hostile spec through the real entry point: a clear error and exit code, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mintloom.campaign.sample import sample_audience, write_sample_campaign
from mintloom.studio import Studio
from tests.conftest import PASSWORD


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MINTLOOM_WORKSPACE"}
    env.update({"MINTLOOM_KEY_PASSWORD": PASSWORD, "COLUMNS": "300"})
    return subprocess.run(
        [sys.executable, "-m", "mintloom.cli.main", *args],
        cwd=cwd, capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip


def test_path_traversal_segment_is_refused_before_anything_is_written(studio: Studio, tmp_path: Path) -> None:
    # out/tiny/en-US/<segment>/square.png with this segment would land in tmp_path/escape
    audience = sample_audience().replace("runners,", "../../../../escape,")
    spec = write_sample_campaign(tmp_path / "campaign", audience=audience)
    for args in (("plan", str(spec)), ("run", str(spec), "--no-publish")):
        r = _cli(*args, cwd=studio.workspace.root)
        assert r.returncode == 3, r.stdout + r.stderr
        assert "audience.csv: row 2: field 'segment': '../../../../escape' is not a safe name" in r.stderr
        assert "Traceback" not in r.stderr
    assert not (tmp_path / "escape").exists()
    assert not any(studio.workspace.out_dir.rglob("*.png"))
