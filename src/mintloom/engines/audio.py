"""SoundLogo: a short brand-seeded melody, synthesised with numpy.

The seed picks the scale, the notes and the rhythm; the palette picks the timbre (the hue of the
first colour sets the harmonic mix, its lightness the register). Notes get an attack/decay/release
envelope, the mix is peak-normalised below full scale (no clipping) and encoded as 16-bit PCM WAV,
or FLAC (:class:`~mintloom.engines.params.AudioParams`: the spec's ``audio.format`` and
``audio.seconds``). Encoding is deterministic: the same request gives the same bytes.
"""

from __future__ import annotations

import colorsys
import io
import math
from dataclasses import dataclass

import numpy as np
import soundfile as sf
from numpy.typing import NDArray

from mintloom.engines.base import Artifact, GenerationRequest, expect_params
from mintloom.engines.params import AudioParams, ParamValue
from mintloom.errors import EngineError
from mintloom.provenance.credentials import GenerationParameters

SAMPLE_RATE = 44_100
PEAK = 0.89  # -1 dBFS

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
}
# tone -> scales it may use (anything else: all of them)
TONE_SCALES: dict[str, tuple[str, ...]] = {
    "playful": ("major", "pentatonic", "lydian"),
    "bold": ("major", "lydian"),
    "serious": ("minor", "dorian"),
    "calm": ("pentatonic", "dorian"),
}


def _hex_rgb(value: str) -> tuple[float, float, float]:
    return (int(value[1:3], 16) / 255, int(value[3:5], 16) / 255, int(value[5:7], 16) / 255)


class SoundLogo:
    """A 2-3 s melodic sound logo. WAV PCM_16 (default) or FLAC."""

    name = "soundlogo"
    version = "1.1.0"
    """1.1.0: ``audio.seconds`` sets the length (1.0.0 read a ``duration`` no spec could set and
    always made 2.4 s)."""
    params_type = AudioParams

    def synthesize(self, request: GenerationRequest) -> tuple[NDArray[np.float64], dict[str, ParamValue]]:
        seed = request.seed
        rng = np.random.default_rng([seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF, 0x50D])
        hue, light, sat = colorsys.rgb_to_hls(*_hex_rgb(request.brand.palette[0]))
        h2, _, _ = colorsys.rgb_to_hls(*_hex_rgb(request.brand.palette[1]))

        scale_names = TONE_SCALES.get(request.brand.tone, tuple(SCALES))
        scale_name = scale_names[int(rng.integers(0, len(scale_names)))]
        scale = SCALES[scale_name]
        # register from lightness: light brands sit higher
        root_midi = 57 + round(light * 12) + int(rng.integers(-2, 3))
        duration = expect_params(self, request, "audio", AudioParams).seconds
        degrees, times, beats = _melody(rng, len(scale))
        melody_span = duration * 0.62  # the tail rings out
        beat_s = melody_span / float(times[-1]) if times[-1] > 0 else melody_span
        timbre = _Timbre.of(hue, sat, h2, light)

        total = int(SAMPLE_RATE * duration)
        out = np.zeros(total, dtype=np.float64)
        for deg, start_beat, length in zip(degrees, times, beats, strict=True):
            octave, idx = divmod(deg, len(scale))
            midi = root_midi + 12 * octave + scale[idx]
            freq = 440.0 * 2 ** ((midi - 69) / 12)
            start = int(start_beat * beat_s * SAMPLE_RATE)
            note_len = min(total - start, int((length * beat_s + 0.35) * SAMPLE_RATE))
            if note_len > 0:
                out[start : start + note_len] += timbre.note(freq, note_len)
        _master(out)
        info: dict[str, ParamValue] = {
            "scale": scale_name,
            "root_midi": root_midi,
            "notes": len(degrees),
            "duration": duration,
            "sample_rate": SAMPLE_RATE,
        }
        return out, info

    def generate(self, request: GenerationRequest) -> Artifact:
        fmt = expect_params(self, request, "audio", AudioParams).format
        signal, info = self.synthesize(request)
        pcm = np.round(signal * 32767).astype(np.int16)
        buf = io.BytesIO()
        try:
            sf.write(buf, pcm, SAMPLE_RATE, format=fmt.upper(), subtype="PCM_16")
        except (RuntimeError, sf.LibsndfileError) as exc:
            raise EngineError(f"encoding the sound logo as {fmt} failed: {exc}") from exc
        parameters = GenerationParameters.model_validate({**info, "format": fmt, "seconds": info["duration"]})
        return Artifact(
            data=buf.getvalue(),
            media_type="audio/wav" if fmt == "wav" else "audio/flac",
            extension=fmt,
            engine=self.name,
            engine_version=self.version,
            seed=request.seed,
            parameters=parameters,
            tags={
                "engine": self.name,
                "locale": request.locale,
                "duration_s": round(len(pcm) / SAMPLE_RATE, 3),
                "sample_rate": SAMPLE_RATE,
                "channels": 1,
                "scale": info["scale"],
            },
        )


def _melody(
    rng: np.random.Generator, scale_len: int
) -> tuple[list[int], NDArray[np.float64], NDArray[np.float64]]:
    """Scale degrees, start times and lengths (in beats) of 4–6 notes; the last is held and resolves."""
    n_notes = int(rng.integers(4, 7))
    # rhythm: note lengths in beats, the last note held
    beats = rng.choice(np.array([0.5, 0.5, 1.0, 1.0, 1.5]), size=n_notes - 1)
    beats = np.append(beats, 2.0 + rng.random())
    times = np.concatenate([[0.0], np.cumsum(beats)[:-1]])
    degrees = [0]
    for _ in range(n_notes - 1):
        step = int(rng.choice([-2, -1, 1, 1, 2, 3, 4]))
        degrees.append(int(np.clip(degrees[-1] + step, -2, 2 * scale_len)))
    degrees[-1] = scale_len if rng.random() < 0.6 else 0  # resolve to the (octave) tonic
    return degrees, times, beats


@dataclass(frozen=True)
class _Timbre:
    """Harmonic amplitudes from hue, brightness from saturation, decay from lightness."""

    k: NDArray[np.float64]
    harmonics: NDArray[np.float64]
    detune: float
    light: float

    @classmethod
    def of(cls, hue: float, sat: float, h2: float, light: float) -> _Timbre:
        n_harm = 6
        k = np.arange(1, n_harm + 1, dtype=np.float64)
        odd = (k % 2 == 1).astype(np.float64)
        mix = 0.5 + 0.5 * math.cos(2 * math.pi * hue)
        harmonics = (mix * odd + (1 - mix)) / k ** (1.6 - 0.8 * sat)
        detune = 1.0 + 0.002 * (0.5 + 0.5 * math.sin(2 * math.pi * h2))
        return cls(k, harmonics, detune, light)

    def note(self, freq: float, note_len: int) -> NDArray[np.float64]:
        """One enveloped note of ``note_len`` samples."""
        t = np.arange(note_len, dtype=np.float64) / SAMPLE_RATE
        tone = np.zeros(note_len)
        for h, amp in zip(self.k, self.harmonics, strict=True):
            if freq * h < SAMPLE_RATE / 2:
                tone += amp * np.sin(2 * math.pi * freq * h * t)
                tone += 0.3 * amp * np.sin(2 * math.pi * freq * h * self.detune * t)
        # envelope: 8 ms attack, exponential decay, 40 ms release to silence
        attack = min(note_len, int(0.008 * SAMPLE_RATE))
        env = np.exp(-t * (2.2 + 1.5 * (1 - self.light)))
        env[:attack] *= np.linspace(0.0, 1.0, attack, endpoint=False)
        release = min(note_len, int(0.04 * SAMPLE_RATE))
        env[note_len - release :] *= np.linspace(1.0, 0.0, release)
        result: NDArray[np.float64] = tone * env
        return result


def _master(out: NDArray[np.float64]) -> None:
    """Fade the last 50 ms and normalise to :data:`PEAK`, in place."""
    fade = int(0.05 * SAMPLE_RATE)
    out[-fade:] *= np.linspace(1.0, 0.0, fade)
    peak = float(np.max(np.abs(out)))
    if peak > 0:
        out *= PEAK / peak
