from __future__ import annotations

import pytest

from mintloom.provenance.content_credentials import C2paAssetSigner
from mintloom.provenance.keys import KeyStore
from tests.conftest import PASSWORD


@pytest.fixture(scope="session")
def asset_signer(keystore: KeyStore) -> C2paAssetSigner:
    return C2paAssetSigner(keystore.signer(PASSWORD))
