from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from pydantic import ValidationError

from mintloom.engines.audio import SAMPLE_RATE, SoundLogo
from mintloom.engines.base import BrandStyle, GenerationRequest
from mintloom.engines.params import AudioParams, ImageParams
from mintloom.errors import EngineError


def audio_request(brand: BrandStyle, seed: int = 5, **params: Any) -> GenerationRequest:
    return GenerationRequest(kind="audio", seed=seed, locale="en", brand=brand, params=AudioParams(**params))


def test_wav_is_deterministic_and_well_formed(brand: BrandStyle) -> None:
    a = SoundLogo().generate(audio_request(brand))
    b = SoundLogo().generate(audio_request(brand))
    assert a.data == b.data
    assert a.data[:4] == b"RIFF" and a.media_type == "audio/wav" and a.extension == "wav"
    info = sf.info(io.BytesIO(a.data))
    assert info.samplerate == SAMPLE_RATE and info.channels == 1 and info.subtype == "PCM_16"
    assert 2.0 <= info.duration <= 3.0


def test_no_clipping_and_audible(brand: BrandStyle) -> None:
    for seed in range(8):
        data, _ = sf.read(io.BytesIO(SoundLogo().generate(audio_request(brand, seed)).data), dtype="int16")
        peak = int(np.abs(data.astype(np.int32)).max())
        assert 20_000 < peak < 32_000
        assert abs(int(data[0])) < 200 and abs(int(data[-1])) < 200  # starts and ends near silence


def test_seed_and_palette_change_the_melody(brand: BrandStyle) -> None:
    base = SoundLogo().generate(audio_request(brand, 1)).data
    assert SoundLogo().generate(audio_request(brand, 2)).data != base
    other = brand.model_copy(update={"palette": ("#ff0066", "#00ffaa")})
    assert SoundLogo().generate(audio_request(other, 1)).data != base


def test_flac_and_duration(brand: BrandStyle) -> None:
    art = SoundLogo().generate(audio_request(brand, format="flac", seconds=3.0))
    assert art.data[:4] == b"fLaC" and art.extension == "flac"
    assert art.data == SoundLogo().generate(audio_request(brand, format="flac", seconds=3.0)).data
    wav = SoundLogo().generate(audio_request(brand, seconds=3.0))
    a, _ = sf.read(io.BytesIO(art.data), dtype="int16")
    b, _ = sf.read(io.BytesIO(wav.data), dtype="int16")
    assert np.array_equal(a, b)  # lossless: the same samples
    assert len(a) == 3 * SAMPLE_RATE


def test_bad_params(brand: BrandStyle) -> None:
    # typed parameters: an unknown format, an out-of-range length or a misspelt name cannot be built
    with pytest.raises(ValidationError, match="format"):
        audio_request(brand, format="mp3")
    with pytest.raises(ValidationError, match="seconds"):
        audio_request(brand, seconds=60)
    with pytest.raises(ValidationError, match="duration"):
        audio_request(brand, duration=3.0)  # what 1.0.0 read, and no spec could set
    with pytest.raises(EngineError, match="makes audio"):
        SoundLogo().generate(
            GenerationRequest(kind="image", seed=1, locale="en", brand=brand, params=AudioParams())
        )
    with pytest.raises(EngineError, match="takes AudioParams"):
        SoundLogo().generate(
            GenerationRequest(kind="audio", seed=1, locale="en", brand=brand, params=ImageParams())
        )


def test_the_spec_length_is_the_length(brand: BrandStyle) -> None:
    """audio.seconds sets the sound logo's length (1.0.0 ignored it and always made 2.4 s)."""
    for seconds in (1.5, 2.5, 4.0):
        art = SoundLogo().generate(audio_request(brand, seconds=seconds))
        assert sf.info(io.BytesIO(art.data)).frames == int(SAMPLE_RATE * seconds)
        assert art.parameters.seconds == seconds == art.parameters.duration
