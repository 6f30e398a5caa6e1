"""RFC 3161 time-stamps on claim signatures, against a real TSA on loopback (openssl ts) and read
back with c2pa-python: present, trusted or not, and what keeps a credential alive past its
signer certificate's expiry."""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Iterator
from pathlib import Path

import c2pa
import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from mintloom.config import DEFAULT_CONFIG, load_settings
from mintloom.errors import ConfigError, SigningError, TimeStampError
from mintloom.provenance.content_credentials import (
    SIGNER_UNDER_TSA_ROOT,
    C2paAssetSigner,
    extract_manifest_store,
    read_credentials,
)
from mintloom.provenance.keys import KeyStore, LocalSigner
from mintloom.verify.report import Verdict
from mintloom.verify.verifier import VerifyContext, verify_bytes
from tests.provenance.certs import NOW, issue
from tests.provenance.tsa import OPENSSL, TsaIdentity, dead_url, make_tsa_identity, serve_tsa, url_of

from .conftest import PASSWORD, png_bytes, record, wav_bytes

pytestmark = pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command line (openssl ts)")


@pytest.fixture(scope="module")
def tsa_identity() -> TsaIdentity:
    return make_tsa_identity("Loopback TSA")


@pytest.fixture(scope="module")
def tsa_url(tsa_identity: TsaIdentity, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_tsa(tsa_identity, tmp_path_factory.mktemp("tsa")) as server:
        yield url_of(server)


@pytest.fixture(scope="module")
def rogue_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A working TSA whose root nobody configured: its time is no evidence."""
    with serve_tsa(make_tsa_identity("Rogue TSA"), tmp_path_factory.mktemp("rogue")) as server:
        yield url_of(server)


def _c2pa_view(data: bytes, media_type: str, anchors: str) -> tuple[dict[str, object], list[str]]:
    """What c2pa-python itself says: the signature info and the success codes."""
    settings = {"verify": {"verify_trust": True}, "trust": {"trust_anchors": anchors}}
    ctx = c2pa.Context(settings=c2pa.Settings.from_dict(settings))
    reader = c2pa.Reader.try_create(media_type, io.BytesIO(data), None, ctx)
    assert reader is not None
    with reader:
        info = dict(reader.get_active_manifest()["signature_info"])
        ok = [x["code"] for x in reader.get_validation_results()["activeManifest"]["success"]]
    return info, ok


@pytest.mark.parametrize(("media_type", "make"), [("image/png", png_bytes), ("audio/wav", wav_bytes)])
def test_time_stamp_present_trusted_and_timed(
    keystore: KeyStore, tsa_identity: TsaIdentity, tsa_url: str, media_type: str, make: object
) -> None:
    signer = C2paAssetSigner(keystore.signer(PASSWORD), tsa_url=tsa_url)
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    signed = signer.sign(make(), media_type, record(), title="a")  # type: ignore[operator]
    after = dt.datetime.now(dt.UTC)
    # the COSE signature carries a v2 time-stamp header, and c2pa-python reads its time back
    assert b"sigTst2" in extract_manifest_store(signed.data, media_type)
    anchors = keystore.trust_anchor_pem()
    info, ok = _c2pa_view(signed.data, media_type, anchors + tsa_identity.root_pem())
    assert "timeStamp.validated" in ok and "timeStamp.trusted" in ok
    assert isinstance(info["time"], str)

    rep = read_credentials(
        signed.data, media_type, trust_anchors_pem=anchors, tsa_anchors_pem=tsa_identity.root_pem()
    )
    assert rep.trusted and rep.time_stamp == "trusted", rep.failures
    assert rep.signed_at is not None and before <= rep.signed_at <= after
    assert rep.time_stamp_authority == "Loopback TSA"


def test_without_tsa_url_no_time_stamp(asset_signer: C2paAssetSigner, keystore: KeyStore) -> None:
    signed = asset_signer.sign(png_bytes(), "image/png", record(), title="a")
    assert b"sigTst" not in extract_manifest_store(signed.data, "image/png")
    rep = read_credentials(signed.data, "image/png", trust_anchors_pem=keystore.trust_anchor_pem())
    assert rep.trusted and rep.time_stamp is None and rep.signed_at is None
    report = verify_bytes(signed.data, "a.png", VerifyContext(trust_anchors_pem=keystore.trust_anchor_pem()))
    check = next(c for c in report.checks if c.name == "signing time")
    assert report.verdict == Verdict.VERIFIED and check.status == "warn" and "no RFC 3161" in check.detail
    assert report.signed_at is None and report.time_stamp is None


def test_time_stamp_by_untrusted_tsa_is_reported(
    keystore: KeyStore, tsa_identity: TsaIdentity, rogue_url: str
) -> None:
    signer = C2paAssetSigner(keystore.signer(PASSWORD), tsa_url=rogue_url)
    signed = signer.sign(png_bytes(), "image/png", record(), title="a")
    anchors = keystore.trust_anchor_pem()
    rep = read_credentials(
        signed.data, "image/png", trust_anchors_pem=anchors, tsa_anchors_pem=tsa_identity.root_pem()
    )
    assert rep.trusted and rep.time_stamp == "untrusted" and rep.time_stamp_authority == "Rogue TSA"
    ctx = VerifyContext(trust_anchors_pem=anchors, tsa_anchors_pem=tsa_identity.root_pem())
    report = verify_bytes(signed.data, "a.png", ctx)
    check = next(c for c in report.checks if c.name == "signing time")
    assert check.status == "warn" and "Rogue TSA" in check.detail and "not evidence" in check.detail
    assert report.time_stamp == "untrusted" and report.signed_at is None


def test_signer_under_a_tsa_root_is_not_trusted(
    keystore: KeyStore, tsa_identity: TsaIdentity, tsa_url: str
) -> None:
    """c2pa trusts signers and TSAs from one list: a content signer the TSA's CA issued (an
    e-mail certificate from a public CA that also runs a TSA) must not pass as the organisation."""
    mallory = issue("Test Org mintloom signer", tsa_identity.root, ca=False,
                    ekus=(ExtendedKeyUsageOID.EMAIL_PROTECTION,))  # fmt: skip
    forged = C2paAssetSigner(
        LocalSigner(mallory.key, mallory.pem() + tsa_identity.root.pem()), tsa_url=tsa_url
    ).sign(png_bytes(), "image/png", record(), title="x")
    anchors = keystore.trust_anchor_pem()
    rep = read_credentials(
        forged.data, "image/png", trust_anchors_pem=anchors, tsa_anchors_pem=tsa_identity.root_pem()
    )
    assert not rep.trusted and SIGNER_UNDER_TSA_ROOT in rep.failures
    report = verify_bytes(
        forged.data,
        "x.png",
        VerifyContext(trust_anchors_pem=anchors, tsa_anchors_pem=tsa_identity.root_pem()),
    )
    assert report.verdict == Verdict.UNTRUSTED


def test_expired_signer_lives_on_only_with_a_trusted_time_stamp(
    tsa_identity: TsaIdentity, tsa_url: str, rogue_url: str
) -> None:
    """A signer certificate that expires seconds after signing; verified (for real, with the
    clock) once it has expired: only the trusted time-stamp keeps the credential valid."""
    now = dt.datetime.now(dt.UTC)
    root = issue("Short Org Root", None, ca=True, path_length=0, not_before=now - dt.timedelta(days=1))
    leaf = issue("Short Org signer", root, ca=False, not_before=now - dt.timedelta(days=1),
                 not_after=now + dt.timedelta(seconds=4))  # fmt: skip
    key = LocalSigner(leaf.key, leaf.pem() + root.pem())
    stamped = C2paAssetSigner(key, tsa_url=tsa_url).sign(png_bytes(seed=3), "image/png", record(), title="s")
    rogue = C2paAssetSigner(key, tsa_url=rogue_url).sign(png_bytes(seed=4), "image/png", record(), title="r")
    bare = C2paAssetSigner(key).sign(png_bytes(seed=5), "image/png", record(), title="b")
    anchors, tsa_roots = root.pem().decode(), tsa_identity.root_pem()
    ctx = VerifyContext(trust_anchors_pem=anchors, tsa_anchors_pem=tsa_roots)
    assert verify_bytes(bare.data, "b.png", ctx).verdict == Verdict.VERIFIED  # still valid now

    time.sleep(max(0.0, (leaf.cert.not_valid_after_utc - dt.datetime.now(dt.UTC)).total_seconds()) + 1.5)
    assert dt.datetime.now(dt.UTC) > leaf.cert.not_valid_after_utc

    ok = read_credentials(stamped.data, "image/png", trust_anchors_pem=anchors, tsa_anchors_pem=tsa_roots)
    assert ok.trusted and not ok.signer_expired and ok.time_stamp == "trusted", ok.failures
    assert ok.signed_at is not None and ok.signed_at <= leaf.cert.not_valid_after_utc
    report = verify_bytes(stamped.data, "s.png", ctx)
    assert report.verdict == Verdict.VERIFIED and report.signed_at == ok.signed_at

    for signed, name in ((bare, "b.png"), (rogue, "r.png")):
        rep = read_credentials(signed.data, "image/png", trust_anchors_pem=anchors, tsa_anchors_pem=tsa_roots)
        assert not rep.trusted and rep.signer_expired and "signingCredential.expired" in rep.failures
        report = verify_bytes(signed.data, name, ctx)
        # an expired signing credential is an invalid one: refused at the signature check
        bad = next(c for c in report.checks if c.status == "fail")
        assert bad.name == "signature" and bad.effect == Verdict.UNTRUSTED, report.checks
        assert report.verdict == Verdict.UNTRUSTED and "expired" in bad.detail, bad.detail
        assert report.credential is not None and report.credential.status == "invalid"


def test_tsa_down_is_a_time_stamp_error_by_name(keystore: KeyStore) -> None:
    url = dead_url()
    signer = C2paAssetSigner(keystore.signer(PASSWORD), tsa_url=url)
    with pytest.raises(TimeStampError) as err:
        signer.sign(png_bytes(), "image/png", record(), title="a.png")
    assert isinstance(err.value, SigningError)
    assert url in err.value.message and "a.png" in err.value.message
    assert err.value.hint is not None and "provenance.tsa_url" in err.value.hint


def test_tsa_answering_garbage_is_a_time_stamp_error(
    keystore: KeyStore, tsa_identity: TsaIdentity, tmp_path: Path
) -> None:
    """A TSA whose openssl cannot reply (its key file is gone) answers HTTP 500."""
    with serve_tsa(tsa_identity, tmp_path / "broken") as server:
        (tmp_path / "broken" / "tsa.key").write_bytes(b"not a key")
        signer = C2paAssetSigner(keystore.signer(PASSWORD), tsa_url=url_of(server))
        with pytest.raises(TimeStampError):
            signer.sign(png_bytes(), "image/png", record(), title="a.png")


def test_trusted_time_stamp_before_retirement_proves_a_retired_signer_signed_in_time(
    keystore: KeyStore, tsa_identity: TsaIdentity, tsa_url: str
) -> None:
    """A signer retired after signing: without a receipt, only a trusted time-stamp from before
    the retirement shows the credential was made while the key was current."""
    anchors, tsa_roots = keystore.trust_anchor_pem(), tsa_identity.root_pem()
    stamped = C2paAssetSigner(keystore.signer(PASSWORD), tsa_url=tsa_url).sign(
        png_bytes(seed=6), "image/png", record(), title="s"
    )
    bare = C2paAssetSigner(keystore.signer(PASSWORD)).sign(
        png_bytes(seed=7), "image/png", record(), title="b"
    )
    serial = read_credentials(bare.data, "image/png", trust_anchors_pem=anchors).signer_serial
    assert serial is not None
    retired = {serial: dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)}
    ctx = VerifyContext(trust_anchors_pem=anchors, tsa_anchors_pem=tsa_roots, retired=retired)
    ok = verify_bytes(stamped.data, "s.png", ctx)
    check = next(c for c in ok.checks if c.name == "retired signer")
    assert ok.verdict == Verdict.VERIFIED and check.status == "pass" and "time-stamped" in check.detail
    assert verify_bytes(bare.data, "b.png", ctx).verdict == Verdict.UNTRUSTED
    untrusted_tsa = VerifyContext(trust_anchors_pem=anchors, retired=retired)  # the TSA's root not configured
    assert verify_bytes(stamped.data, "s.png", untrusted_tsa).verdict == Verdict.UNTRUSTED


_SIGNED_DATA_OID = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02"  # the TST's ContentInfo type


def _token(data: bytes) -> tuple[int, bytes]:
    """Offset and DER bytes of the one RFC 3161 token (a CMS ContentInfo) in a signed PNG."""
    assert data.count(_SIGNED_DATA_OID) == 1
    at = data.index(_SIGNED_DATA_OID) - 4
    assert data[at : at + 2] == b"\x30\x82"
    return at, data[at : at + 4 + int.from_bytes(data[at + 2 : at + 4], "big")]


def test_time_stamp_moved_from_another_credential_is_ignored_by_name(
    keystore: KeyStore, tsa_identity: TsaIdentity, tsa_url: str
) -> None:
    """The time-stamp sits in the signature's unprotected header: a forger can transplant an
    older credential's token to backdate this one. It must not count as this claim's time."""
    signer = C2paAssetSigner(keystore.signer(PASSWORD), tsa_url=tsa_url)
    signed = [signer.sign(png_bytes(seed=10 + i), "image/png", record(), title="t").data for i in range(8)]
    by_len: dict[int, bytes] = {}
    pair = None
    for data in signed:  # eight tokens over at most a few lengths: two have the same size
        size = len(_token(data)[1])
        if size in by_len:
            pair = (by_len[size], data)
            break
        by_len[size] = data
    assert pair is not None
    donor, target = pair
    at, own = _token(target)
    forged = target[:at] + _token(donor)[1] + target[at + len(own) :]
    anchors, tsa_roots = keystore.trust_anchor_pem(), tsa_identity.root_pem()
    rep = read_credentials(forged, "image/png", trust_anchors_pem=anchors, tsa_anchors_pem=tsa_roots)
    assert rep.time_stamp == "invalid" and rep.signed_at is None
    assert rep.time_stamp_problem is not None and "timeStamp.mismatch" in rep.time_stamp_problem
    report = verify_bytes(
        forged, "t.png", VerifyContext(trust_anchors_pem=anchors, tsa_anchors_pem=tsa_roots)
    )
    check = next(c for c in report.checks if c.name == "signing time")
    assert check.status == "warn" and "timeStamp.mismatch" in check.detail
    assert report.signed_at is None and report.time_stamp == "invalid"


def test_tsa_url_is_optional_and_must_be_http(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "mintloom.toml"
    config.write_text(DEFAULT_CONFIG)
    assert load_settings(config).provenance.tsa_url is None  # the default and demo config: no TSA
    monkeypatch.setenv("MINTLOOM_PROVENANCE__TSA_URL", "http://127.0.0.1:3180/tsa")
    assert load_settings(config).provenance.tsa_url == "http://127.0.0.1:3180/tsa"
    monkeypatch.setenv("MINTLOOM_PROVENANCE__TSA_URL", "file:///etc/passwd")
    with pytest.raises(ConfigError, match="tsa_url"):
        load_settings(config)


def test_tsa_certificate_without_time_stamping_eku_is_a_time_stamp_error(
    keystore: KeyStore, tsa_identity: TsaIdentity, tmp_path: Path
) -> None:
    """A TSA whose certificate lacks the timeStamping EKU: c2pa refuses the token while signing and
    calls it ``signingCredential.invalid``; mintloom names the TSA, not the organisation's key."""
    year = dt.timedelta(days=365)
    no_eku = issue("Not a TSA", tsa_identity.root, ca=False, ekus=(ExtendedKeyUsageOID.EMAIL_PROTECTION,),
                   not_before=NOW - year / 12, not_after=NOW + year / 2)  # fmt: skip
    with serve_tsa(tsa_identity, tmp_path, resigner=no_eku) as server:
        signer = C2paAssetSigner(keystore.signer(PASSWORD), tsa_url=url_of(server))
        with pytest.raises(TimeStampError, match=r"(?s)time-stamping a at .*refused the TSA.*EKU"):
            signer.sign(png_bytes(), "image/png", record(), title="a")
