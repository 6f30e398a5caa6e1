"""The demo's training step on a real anvil chain: opt-out excluded and reported, the copy
model trained and registered with its run, a photographer paid by Merkle claim; rerun: nothing new."""

from __future__ import annotations

import pytest

from mintloom.cli.demo_training import DATA_SHARE_WEI, OPTED_OUT, PHOTOGRAPHER, training_step
from mintloom.ledger.client import ChainClient
from mintloom.ledger.deploy import deploy_all
from mintloom.ledger.lineage import Names
from mintloom.ledger.node import NodeInfo, dev_key
from mintloom.ledger.training import run_of
from mintloom.studio import Studio

pytestmark = [pytest.mark.chain, pytest.mark.xdist_group("anvil")]


def test_training_step_runs_once(
    studio: Studio, shared_anvil: NodeInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    torch.set_num_threads(1)
    chain = studio.chain
    deploy_all(chain)

    def party(i: int) -> ChainClient:
        return ChainClient(chain.rpc_url, dev_key(i), studio.db, chain.deployments)

    photographer = party(PHOTOGRAPHER).address
    before = chain.w3.eth.get_balance(photographer)
    said: list[str] = []
    training_step(said.append, studio, party)
    out = capsys.readouterr().out
    assert f"excluded {OPTED_OUT}: opt-out-list" in out
    assert len(said) == 3 and "claimed" in out
    model = Names(studio.db, chain.chain_id).require("model", "lumen-copy-lora")
    run = run_of(chain, studio.blobs, model)
    assert run is not None and [d.name for d in run.parsed().datasets] == ["lumen-past-copy"]
    paid = chain.w3.eth.get_balance(photographer) - before
    assert 0 < paid < DATA_SHARE_WEI  # 3 of the 5 photos are theirs (less the claim's gas)
    counts = [int(chain.call("LineageRegistry", f"{k}Count")) for k in ("dataset", "model")]

    training_step(said.append, studio, party)  # rerun: every step finds itself done
    assert "already claimed" in capsys.readouterr().out
    assert [int(chain.call("LineageRegistry", f"{k}Count")) for k in ("dataset", "model")] == counts == [2, 1]
    assert chain.w3.eth.get_balance(photographer) - before == paid
