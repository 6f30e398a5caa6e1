"""Blob store conformance, run on both backends: the local folder and an S3-compatible object store
(a local moto server). Whole files under IPFS CIDs (dag-pb for big ones), the raw CIDs older runs
stored big files under still served; idempotent writes; reads checked against the CID; a missing
blob refused by name; large blobs moved in bounded memory."""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from mintloom.campaign.run import CampaignRunner
from mintloom.campaign.spec import load_spec
from mintloom.config import load_settings
from mintloom.errors import BlobCorruptedError, BlobError, BlobNotFoundError, ConfigError, ProvenanceError
from mintloom.store.blobs import BlobStore, LocalBlobStore
from mintloom.store.catalog import Catalog
from mintloom.store.cid import CHUNK_SIZE, DAG_PB_CODEC, cid_for, codec_of, dag_blocks, raw_cid
from mintloom.store.s3 import MULTIPART_BYTES, S3BlobStore
from mintloom.studio import Studio
from mintloom.workspace import Workspace
from tests.campaign.conftest import write_campaign
from tests.conftest import PASSWORD

BIG = random.Random(9).randbytes(2 * CHUNK_SIZE + 17)


@dataclass
class Backend:
    store: BlobStore
    overwrite: Callable[[str, bytes], None]
    """Replace what is stored under a CID behind the store's back (an attacker with storage access)."""


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        local = LocalBlobStore(tmp_path / "blobs")

        def write(cid: str, data: bytes) -> None:
            local.path(cid).parent.mkdir(parents=True, exist_ok=True)
            local.path(cid).write_bytes(data)

        return Backend(local, write)
    endpoint: str = request.getfixturevalue("s3_server")
    bucket: str = request.getfixturevalue("s3_bucket")
    s3 = S3BlobStore.from_url(f"s3://{bucket}/ws/blobs", endpoint_url=endpoint)
    return Backend(s3, lambda cid, data: s3.client.put_object(Bucket=bucket, Key=s3.key(cid), Body=data))


def test_big_blob_is_stored_whole_under_its_ipfs_cid(backend: Backend) -> None:
    store = backend.store
    cid = store.put(BIG)
    assert cid == cid_for(BIG) and codec_of(cid) == DAG_PB_CODEC
    assert store.get(cid) == BIG and store.has(cid) and store.size(cid) == len(BIG)
    assert b"".join(store.chunks(cid)) == BIG
    backend.overwrite(cid, BIG[:-1] + b"\x00")
    with pytest.raises(BlobCorruptedError, match="corrupted"):
        store.get(cid)


def test_small_blob_round_trips_and_writes_are_idempotent(backend: Backend) -> None:
    store = backend.store
    assert store.put(b"hello") == store.put(b"hello") == raw_cid(b"hello")
    assert store.get(raw_cid(b"hello")) == b"hello"


def test_legacy_raw_cid_blob_is_still_served(backend: Backend) -> None:
    legacy = raw_cid(BIG)  # how a run before UnixFS CIDs stored it
    backend.overwrite(legacy, BIG)
    assert backend.store.get(legacy) == BIG
    backend.overwrite(legacy, BIG + b"!")
    with pytest.raises(BlobCorruptedError, match="corrupted"):
        backend.store.get(legacy)


def test_root_node_bytes_are_not_the_file(backend: Backend) -> None:
    """Attack: store the DAG's root node (whose sha256 is the CID's digest) in place of the file."""
    cid = backend.store.put(BIG)
    root = list(dag_blocks([BIG]))[-1]
    assert root[0] == cid
    backend.overwrite(cid, root[1])
    with pytest.raises(BlobCorruptedError, match="corrupted"):
        backend.store.get(cid)


def test_missing_blob_is_refused_by_name(backend: Backend) -> None:
    absent = cid_for(b"absent")
    assert not backend.store.has(absent)
    for read in (backend.store.get, backend.store.size, lambda c: list(backend.store.chunks(c))):
        with pytest.raises(BlobNotFoundError, match="not in the store"):
            read(absent)


def test_a_malformed_cid_is_refused_before_any_lookup(backend: Backend) -> None:
    for bad in ("../../etc/passwd", "bafy/../x", ""):
        with pytest.raises(ProvenanceError, match="CID"):
            backend.store.get(bad)


def test_large_file_moves_in_bounded_memory(backend: Backend, tmp_path: Path) -> None:
    """A 48 MiB file is stored from disk and read back chunk by chunk: peak memory stays under a
    bound set by the part size (4 parts of 8 MiB: two in flight, their buffers), not the file's."""
    big = tmp_path / "big.bin"
    rng = random.Random(3)
    with big.open("wb") as f:
        for _ in range(48):
            f.write(rng.randbytes(1 << 20))
    tracemalloc.start()
    try:
        cid = backend.store.put_file(big)
        assert backend.store.put_file(big) == cid  # idempotent
        sizes = [len(c) for c in backend.store.chunks(cid)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(sizes) == big.stat().st_size and max(sizes) <= CHUNK_SIZE
    assert peak < 4 * MULTIPART_BYTES < big.stat().st_size, f"peak {peak / (1 << 20):.1f} MiB"
    assert backend.store.size(cid) == big.stat().st_size


# -- S3 only ---------------------------------------------------------------------------------------


def _calls(store: S3BlobStore) -> list[str]:
    seen: list[str] = []
    store.client.meta.events.register("before-call.s3", lambda model, **_: seen.append(model.name))
    return seen


def test_s3_rewrites_nothing_it_has_and_uploads_large_blobs_in_parts(
    s3_server: str, s3_bucket: str, tmp_path: Path
) -> None:
    store = S3BlobStore.from_url(f"s3://{s3_bucket}", endpoint_url=s3_server)
    calls = _calls(store)
    cid = store.put(BIG)
    assert calls.count("PutObject") == 1
    store.put(BIG)
    assert calls.count("PutObject") == 1 and calls.count("HeadObject") == 2  # looked, did not write
    big = tmp_path / "big.bin"
    big.write_bytes(random.Random(5).randbytes(20 << 20))
    store.put_file(big)
    assert calls.count("CreateMultipartUpload") == 1 and calls.count("UploadPart") >= 3
    assert store.key(cid) == f"{cid[-3:-1]}/{cid}"  # the flatfs layout, under the (empty) prefix


def test_s3_without_credentials_says_where_they_come_from(
    s3_server: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = S3BlobStore.from_url(f"s3://{s3_bucket}", endpoint_url=s3_server)
    with pytest.raises(BlobError) as info:
        store.put(b"x")
    assert info.value.hint is not None and "AWS_ACCESS_KEY_ID" in info.value.hint


def test_s3_missing_bucket_is_a_blob_error_with_a_hint(s3_server: str) -> None:
    store = S3BlobStore.from_url("s3://no-such-bucket-here", endpoint_url=s3_server)
    with pytest.raises(BlobError) as info:
        store.put(b"x")
    assert info.value.hint is not None and "bucket" in info.value.hint


def test_workspace_config_selects_the_s3_store(s3_server: str, s3_bucket: str, tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.config_file.write_text(f'[blobs]\nurl = "s3://{s3_bucket}/team/a"\nendpoint_url = "{s3_server}"\n')
    studio = Studio(ws)
    store = studio.blobs
    assert isinstance(store, S3BlobStore) and (store.bucket, store.prefix) == (s3_bucket, "team/a")
    cid = store.put(b"through the workspace")
    body = boto3.client("s3", endpoint_url=s3_server).get_object(Bucket=s3_bucket, Key=store.key(cid))
    assert body["Body"].read() == b"through the workspace" and store.key(cid).startswith("team/a/")
    assert not any(ws.blobs_dir.rglob("*")), "nothing written to the local folder"


def test_bad_blob_urls_are_configuration_errors(tmp_path: Path) -> None:
    for url in ("http://bucket/x", "s3://", "s3://UPPER/x", "file:///etc"):
        config = tmp_path / "mintloom.toml"
        config.write_text(f'[blobs]\nurl = "{url}"\n')
        with pytest.raises(ConfigError, match="blobs"):
            load_settings(config)


def test_campaign_run_keeps_its_blobs_in_s3(s3_server: str, s3_bucket: str, tmp_path: Path) -> None:
    """A campaign in a workspace configured for S3 stores every asset and sidecar in the bucket
    (each read back CID-checked), nothing in the local folder; a rerun writes nothing new."""
    ws = Workspace.init(tmp_path / "ws")
    ws.config_file.write_text(f'[blobs]\nurl = "s3://{s3_bucket}/c"\nendpoint_url = "{s3_server}"\n')
    studio = Studio(ws, password=PASSWORD)
    studio.ensure_keys()
    try:
        summary = CampaignRunner(studio.run_parts(), load_spec(write_campaign(tmp_path / "c"))).run()
        rows = Catalog(studio.db).assets()
        assert summary.new_assets == len(rows) == 17
        store = studio.blobs
        assert isinstance(store, S3BlobStore)
        for row in rows:
            assert cid_for(store.get(row.cid)) == row.cid
            if row.sidecar_cid is not None:
                store.get(row.sidecar_cid)
        assert not any(p.is_file() for p in ws.blobs_dir.rglob("*"))
        calls = _calls(store)
        again = CampaignRunner(studio.run_parts(), load_spec(write_campaign(tmp_path / "c"))).run()
        assert again.skipped == 17 and "PutObject" not in calls
    finally:
        studio.close()
