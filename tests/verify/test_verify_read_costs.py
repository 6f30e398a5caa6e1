"""What a verification no longer pays per file or per reader (issue 14), each check still intact:
one c2pa reader context per trust anchors and process (a forked worker makes its own); a chain
reader that parses no contract artifact until a revert must be decoded; batched reads whose
directly encoded arguments are eth_abi's own bytes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import EncodingError

from mintloom.errors import ContractError
from mintloom.ledger.node import NodeInfo
from mintloom.ledger.reader import ChainReader, ViewCall, _encoded
from mintloom.provenance.content_credentials import _reader_context, read_credentials
from mintloom.provenance.keys import make_ca
from mintloom.studio import Studio
from mintloom.verify.verifier import media_files


def test_one_reader_context_per_anchors_is_shared_by_every_read() -> None:
    anchors = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    assert _reader_context(anchors) is _reader_context(anchors)
    assert _reader_context(None) is _reader_context(None)
    assert _reader_context(anchors) is not _reader_context(None)


def _child_reads(data: bytes, anchors: str, parent_context: int) -> tuple[bool, bool]:
    cred = read_credentials(data, "image/png", trust_anchors_pem=anchors)
    return cred.trusted, id(_reader_context(anchors)) != parent_context


def test_a_forked_worker_reads_with_a_context_of_its_own(tmp_path: Path) -> None:
    from tests.conftest import sample_studio

    tiny = sample_studio(tmp_path)
    try:
        anchors = tiny.keys.trust_anchor_pem()
        png = next(f for f in media_files(tiny.workspace.out_dir / "tiny") if f.suffix == ".png")
        data = png.read_bytes()
        assert read_credentials(data, "image/png", trust_anchors_pem=anchors).trusted  # parent's context made
        with multiprocessing.get_context("fork").Pool(1) as pool:
            trusted, own = pool.apply(_child_reads, (data, anchors, id(_reader_context(anchors))))
        assert trusted and own
        _, foreign = make_ca("Lumen")  # another root: the shared contexts keep their anchors apart
        other = foreign.public_bytes(Encoding.PEM).decode()
        assert not read_credentials(data, "image/png", trust_anchors_pem=other).trusted
        assert read_credentials(data, "image/png", trust_anchors_pem=anchors).trusted
    finally:
        tiny.close()


@pytest.mark.parametrize("args", [(0,), (1, 2**256 - 1), (7, 0, 2**64)])
def test_uint256_arguments_are_encoded_as_eth_abi_encodes_them(args: tuple[int, ...]) -> None:
    types = ["uint256"] * len(args)
    assert _encoded(types, args) == abi_encode(types, args)


def test_other_arguments_go_through_eth_abi_and_out_of_range_ones_are_refused() -> None:
    assert _encoded(["address", "uint256"], ("0x" + "11" * 20, 5)) == abi_encode(
        ["address", "uint256"], ("0x" + "11" * 20, 5)
    )
    assert _encoded(["bytes32"], (b"\x01" * 32,)) == abi_encode(["bytes32"], (b"\x01" * 32,))
    for bad in (-1, 2**256, True):
        with pytest.raises(EncodingError):
            _encoded(["uint256"], (bad,))


@pytest.mark.chain
@pytest.mark.xdist_group("anvil")
def test_a_reader_parses_no_artifact_until_a_revert_names_its_error(
    studio: Studio, shared_anvil: NodeInfo
) -> None:
    studio.contracts()
    deployments = studio.workspace.chain_dir / "deployments.json"
    reader = ChainReader.from_deployments(shared_anvil.rpc_url, deployments)
    assert reader.read_batch([ViewCall("CreativeAssets", "isRegistered", (7,))]) == [False]
    assert reader._decoder is None  # nothing decoded yet: no artifact of the 13 contracts parsed for it
    with pytest.raises(ContractError) as err:
        reader.call("ProvenanceLog", "rootAt", 12345)
    assert err.value.error_name == "UnknownCheckpoint" and err.value.error_args == (12345,)
