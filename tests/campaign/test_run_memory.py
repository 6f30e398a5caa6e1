"""A run keeps a master's signed bytes only while a variant of it is still to be signed (issue 14:
every master stayed in memory for the whole run, ~20 KB per asset at 20k assets)."""

from __future__ import annotations

from pathlib import Path

from mintloom.bench.compare import audience_csv
from mintloom.bench.scale import spec_text
from mintloom.campaign.execute import Generated
from mintloom.campaign.plan import Job
from mintloom.campaign.run import CampaignRunner, _RunState
from mintloom.campaign.sample import write_sample_campaign
from mintloom.campaign.spec import load_spec
from mintloom.studio import Studio


class Watched(CampaignRunner):
    held: list[int]

    def _sign_one(
        self, state: _RunState, job: Job, gen: Generated, parent: tuple[bytes, str, str] | None
    ) -> None:
        super()._sign_one(state, job, gen, parent)
        self.held.append(len(state.signed_parents))


def test_masters_bytes_are_released_once_their_variants_are_signed(studio: Studio, tmp_path: Path) -> None:
    path = write_sample_campaign(tmp_path, spec_text("mem"), audience_csv(12))
    runner = Watched(studio.run_parts(), load_spec(path), batch_size=4)
    runner.held = []
    summary = runner.run()
    assert summary.new_assets == 24  # 12 masters, each with one variant
    assert len(runner.held) == 24
    assert runner.held[-1] == 0 and max(runner.held) <= 2  # was 12 at the end: one per master
