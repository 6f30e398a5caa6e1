from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from mintloom.provenance.content_credentials import C2paAssetSigner
from mintloom.provenance.credentials import DigitalSourceType, GenerationRecord
from mintloom.provenance.keys import KeyStore
from tests.conftest import PASSWORD

__all__ = ["PASSWORD"]


@pytest.fixture(scope="session")
def foreign_keystore(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    ks = KeyStore(tmp_path_factory.mktemp("foreign") / "keys")
    ks.init("Mallory Inc", "ed25519", password=PASSWORD)
    return ks


@pytest.fixture(scope="session")
def asset_signer(keystore: KeyStore) -> C2paAssetSigner:
    return C2paAssetSigner(keystore.signer(PASSWORD))


def png_bytes(w: int = 320, h: int = 200, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 255 // w), (y * 255 // h), np.full_like(x, rng.integers(0, 255))], -1)
    buf = io.BytesIO()
    Image.fromarray(base.astype("uint8")).save(buf, "PNG")
    return buf.getvalue()


def wav_bytes(seconds: float = 0.5) -> bytes:
    t = np.linspace(0, seconds, int(22050 * seconds), endpoint=False)
    buf = io.BytesIO()
    sf.write(buf, 0.3 * np.sin(2 * np.pi * 440 * t), 22050, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def record(**over: object) -> GenerationRecord:
    base: dict[str, object] = {
        "engine": "compositor",
        "engine_version": "1",
        "recipe": "procedural-v1",
        "dataset_ids": ("ds-1",),
        "template_hash": "ab" * 32,
        "seed": 7,
        "parameters": {"format": "1080x1080"},
        "campaign": "spring",
        "segment_commitment": "cd" * 32,
        "locale": "fr-FR",
        "source_type": DigitalSourceType.ALGORITHMIC,
    }
    base.update(over)
    return GenerationRecord.model_validate(base)


@pytest.fixture
def tmp_file(tmp_path: Path) -> Path:
    return tmp_path / "f"
