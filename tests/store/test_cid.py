from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mintloom.errors import ProvenanceError
from mintloom.store.cid import DAG_PB_CODEC, cid_bytes, cid_for, codec_of, digest_of, parse_cid

# Public vectors: `ipfs add --cid-version 1 --raw-leaves` of these exact bytes.
VECTORS = {
    b"hello world": "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
    b"": "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
}


@pytest.mark.parametrize(("data", "cid"), VECTORS.items())
def test_public_vectors(data: bytes, cid: str) -> None:
    assert cid_for(data) == cid


@given(st.binary(max_size=4096))
def test_roundtrip(data: bytes) -> None:
    cid = cid_for(data)
    assert cid.startswith("bafkrei")
    assert digest_of(cid) == hashlib.sha256(data).digest()
    assert parse_cid(cid) == cid
    assert len(cid_bytes(cid)) == 36


@given(st.text(max_size=80))
def test_parse_never_crashes_on_garbage(text: str) -> None:
    try:
        assert parse_cid(text) == text
    except ProvenanceError as exc:
        assert "CID" in str(exc)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "Qmabc",
        "bafyreibnoelefnzgwbcacyt4vh52ymxvzbjq7mmqhtcnwarfq4lzegsiqe",  # dag-cbor codec
        "bafkrgibnoelefnzgwbcacyt4vh52ymxvzbjq7mmqhtcnwarfq4lzegsiqe",  # sha2-512 code, 32 bytes
        "b!!!!",
        "bafkrei",
    ],
)
def test_rejects_unsupported(bad: str) -> None:
    with pytest.raises(ProvenanceError):
        parse_cid(bad)


def test_dag_pb_cids_parse_and_keep_their_codec() -> None:
    """A UnixFS root CID (what IPFS gives a file over 256 KiB) is a valid mintloom CID."""
    cid = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
    assert parse_cid(cid) == cid and codec_of(cid) == DAG_PB_CODEC
    assert parse_cid(cid.upper().replace("B", "b", 1)) == cid
