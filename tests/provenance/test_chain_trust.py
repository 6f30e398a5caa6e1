"""A checkpoint is trusted only if its signer's whole X.509 path validates up to the trusted root.

Each attack is a real certificate chain: a forger's self-signed leaf with the genuine root merely
appended, a look-alike root with the same names, an expired leaf, a leaf without the signing
usages, and intermediates the genuine root never allowed."""

from __future__ import annotations

import datetime as dt
import hashlib
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from mintloom.errors import CertificateChainError
from mintloom.provenance.keys import ChainFailure, LocalSigner, issue_signer, verify_chain
from mintloom.provenance.log import SignedCheckpoint, TransparencyLog
from mintloom.store.cid import cid_for
from mintloom.store.db import Database
from tests.provenance.certs import NOW, Issued, issue, resign

ROOT_CN = "Lumen Coffee Content Credentials Root CA"


@pytest.fixture(scope="module")
def root() -> Issued:
    """The organisation's root (CA, pathLen 0, as ``make_ca`` makes it), valid since last year."""
    year = dt.timedelta(days=365)
    return issue(ROOT_CN, None, ca=True, path_length=0, not_before=NOW - year, not_after=NOW + year)


@pytest.fixture
def checkpoint(db: Database, root: Issued) -> SignedCheckpoint:
    """A genuine checkpoint signed by a signer issued by ``root`` (mintloom's own profile)."""
    log = TransparencyLog(db, origin="lumen/log")
    log.append_batch([(cid_for(f"a{i}".encode()), hashlib.sha256(b"m%d" % i).digest()) for i in range(3)])
    key, leaf = issue_signer(root.key, root.cert, "Lumen Coffee", "es256")
    chain = Issued(ec.generate_private_key(ec.SECP256R1()), leaf).pem() + root.pem()
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return log.checkpoint(LocalSigner(key, chain), timestamp=int(time.time()))


def anchor(root: Issued) -> str:
    return root.pem().decode()


def refused(cp: SignedCheckpoint, root: Issued) -> str:
    assert not cp.verify_signature(anchor(root))
    with pytest.raises(CertificateChainError) as err:
        cp.check(anchor(root))
    return err.value.reason


def test_genuine_chain_is_trusted(checkpoint: SignedCheckpoint, root: Issued) -> None:
    checkpoint.check(anchor(root))
    assert checkpoint.verify_signature(anchor(root))


def test_forged_leaf_with_the_genuine_root_appended_is_refused(
    checkpoint: SignedCheckpoint, root: Issued
) -> None:
    mallory = issue("Lumen Coffee mintloom signer", None, ca=False, issuer_name=ROOT_CN)
    forged = resign(checkpoint, mallory.key, mallory.pem() + root.pem())
    assert anchor(root).strip() in forged.signer_chain  # what the old substring test accepted
    assert refused(forged, root) == ChainFailure.UNTRUSTED


def test_look_alike_root_with_the_same_names_is_refused(checkpoint: SignedCheckpoint, root: Issued) -> None:
    fake_root = issue(ROOT_CN, None, ca=True, path_length=0)
    assert fake_root.cert.subject == root.cert.subject
    leaf = issue("Lumen Coffee mintloom signer", fake_root, ca=False)
    forged = resign(checkpoint, leaf.key, leaf.pem() + fake_root.pem() + root.pem())
    assert refused(forged, root) == ChainFailure.UNTRUSTED


def test_expired_leaf_is_refused(checkpoint: SignedCheckpoint, root: Issued) -> None:
    old = issue("Lumen Coffee mintloom signer", root, ca=False, not_before=NOW - dt.timedelta(days=60),
                not_after=NOW - dt.timedelta(days=1))  # fmt: skip
    assert old.cert.issuer == root.cert.subject
    assert refused(resign(checkpoint, old.key, old.pem() + root.pem()), root) == ChainFailure.EXPIRED
    # a checkpoint dated within the leaf's validity is fine: the signing time is what counts
    then = int((NOW - dt.timedelta(days=2)).timestamp())
    body = checkpoint.note.replace(f"timestamp {checkpoint.timestamp}", f"timestamp {then}")
    dated = checkpoint.model_copy(update={"timestamp": then, "note": body})
    resign(dated, old.key, old.pem() + root.pem()).check(anchor(root))


@pytest.mark.parametrize(
    ("sign", "ekus"),
    [
        (True, (ExtendedKeyUsageOID.SERVER_AUTH,)),
        (False, (ExtendedKeyUsageOID.EMAIL_PROTECTION,)),
        (True, ()),
    ],
    ids=["server-auth-eku", "no-digital-signature", "no-eku"],
)
def test_leaf_without_signing_usage_is_refused(
    checkpoint: SignedCheckpoint, root: Issued, sign: bool, ekus: tuple[object, ...]
) -> None:
    leaf = issue("Lumen Coffee mintloom signer", root, ca=False, sign=sign, ekus=ekus)  # type: ignore[arg-type]
    assert refused(resign(checkpoint, leaf.key, leaf.pem() + root.pem()), root) == ChainFailure.WRONG_USAGE


def test_ca_certificate_as_signer_is_refused(checkpoint: SignedCheckpoint, root: Issued) -> None:
    sub = issue("Lumen Coffee sub CA", root, ca=True)
    assert refused(resign(checkpoint, sub.key, sub.pem() + root.pem()), root) == ChainFailure.WRONG_USAGE


def test_non_ca_intermediate_is_refused(checkpoint: SignedCheckpoint, root: Issued) -> None:
    middle = issue("Lumen Coffee helper", root, ca=False)
    leaf = issue("Lumen Coffee mintloom signer", middle, ca=False)
    chain = leaf.pem() + middle.pem() + root.pem()
    assert refused(resign(checkpoint, leaf.key, chain), root) == ChainFailure.NOT_A_CA


def test_intermediate_ca_beyond_the_roots_path_length_is_refused(
    checkpoint: SignedCheckpoint, root: Issued
) -> None:
    middle = issue("Lumen Coffee sub CA", root, ca=True, path_length=0)
    leaf = issue("Lumen Coffee mintloom signer", middle, ca=False)
    chain = leaf.pem() + middle.pem() + root.pem()
    assert refused(resign(checkpoint, leaf.key, chain), root) == ChainFailure.UNTRUSTED  # root has pathLen 0


def test_garbage_chain_is_malformed(root: Issued) -> None:
    with pytest.raises(CertificateChainError) as err:
        verify_chain(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", anchor(root), NOW)
    assert err.value.reason == ChainFailure.MALFORMED
