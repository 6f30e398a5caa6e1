"""Hostile files given to `mintloom verify`: devices, FIFOs, oversized files and pixel bombs are
refused by name, quickly and in bounded memory."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PIL import Image

from mintloom.bench.fingerprint import synthetic_ad
from mintloom.errors import ImageTooLargeError
from mintloom.provenance.fingerprint import MAX_PIXELS, fingerprint
from mintloom.store.files import MAX_VERIFY_BYTES
from mintloom.verify.report import Verdict
from mintloom.verify.verifier import VerifyContext, verify_path
from tests.bombs import png_bomb

REPO = Path(__file__).resolve().parents[2]


def _verify(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MINTLOOM_WORKSPACE"}
    return subprocess.run(
        [sys.executable, "-m", "mintloom.cli.main", "verify", "--offline", *args],
        cwd=cwd, capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def _special(tmp_path: Path, kind: str) -> Path:
    if kind == "fifo":
        os.mkfifo(tmp_path / "ad.png")
    elif kind == "symlink":
        (tmp_path / "ad.png").symlink_to("/dev/zero")
    elif kind == "oversized":
        with (tmp_path / "ad.png").open("wb") as f:
            f.truncate(MAX_VERIFY_BYTES + 1)  # sparse: no disk used
    else:
        return Path("/dev/zero")
    return tmp_path / "ad.png"


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("dev-zero", "is not a regular file"),
        ("fifo", "is not a regular file"),
        ("symlink", "is not a regular file"),
        ("oversized", f"is {MAX_VERIFY_BYTES + 1} bytes, over the limit of {MAX_VERIFY_BYTES}"),
    ],
)
def test_verify_refuses_what_is_not_a_bounded_regular_file(tmp_path: Path, kind: str, message: str) -> None:
    path = _special(tmp_path, kind)
    start = time.perf_counter()
    r = _verify(str(path), cwd=tmp_path)
    assert time.perf_counter() - start < 30  # was: reading /dev/zero until memory ran out
    assert r.returncode == 9, r.stdout + r.stderr
    err = " ".join(r.stderr.split())  # rich wraps long lines
    assert "file to verify:" in err and message in err
    assert "Traceback" not in r.stderr


def test_a_folder_with_an_oversized_file_reports_it_unknown(tmp_path: Path) -> None:
    path = _special(tmp_path, "oversized")
    report = verify_path(path, VerifyContext(chain_error="offline"))
    assert report.verdict is Verdict.UNKNOWN
    assert [c.detail for c in report.checks if c.name == "read"] == [
        f"file to verify: {path} is {MAX_VERIFY_BYTES + 1} bytes, over the limit of {MAX_VERIFY_BYTES}"
    ]


def _peak_rss_mb(code: str) -> tuple[float, str]:
    """Run ``code`` in a fresh interpreter; its peak RSS in MB and its output."""
    script = textwrap.dedent(code) + textwrap.dedent(
        """
        from tests.bombs import peak_rss_mb
        print("RSS", peak_rss_mb())
        """
    )
    r = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                       timeout=180, check=False)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    return float(r.stdout.rsplit("RSS ", 1)[1]), r.stdout


def test_pixel_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(9400, 9400))  # 344 KB, 353 MB decoded (1.86 GB to fingerprint before)
    assert bomb.stat().st_size < 400_000
    start = time.perf_counter()
    rss, out = _peak_rss_mb(f"""
        from pathlib import Path
        from mintloom.errors import ImageTooLargeError
        from mintloom.provenance.fingerprint import fingerprint
        try:
            fingerprint(Path({str(bomb)!r}).read_bytes())
        except ImageTooLargeError as exc:
            print("refused:", exc.message)
        """)  # fmt: skip
    assert "refused: cannot fingerprint: the image is 9400x9400 pixels, over the limit of 40" in out
    assert rss < 300, rss
    assert time.perf_counter() - start < 30


def test_largest_allowed_image_fingerprints_in_bounded_memory(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(png_bomb(6300, 6300))  # 39.7 MP: just under the cap
    assert MAX_PIXELS >= 6300 * 6300
    rss, out = _peak_rss_mb(f"""
        from pathlib import Path
        from mintloom.provenance.fingerprint import fingerprint, registration_fingerprints
        data = Path({str(big)!r}).read_bytes()
        print(fingerprint(data).hex(), len(registration_fingerprints(data)))
        """)  # fmt: skip
    assert " 11" in out
    assert rss < 500, rss


def test_pixel_bomb_is_a_named_error_in_process() -> None:
    with pytest.raises(ImageTooLargeError, match="9400x9400 pixels"):
        fingerprint(png_bomb(9400, 9400))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_large_images_shrunk_on_decode_still_match(fmt: str) -> None:
    """A 5x upscale of an ad (shrunk while decoding) fingerprints like the ad itself."""
    ad = synthetic_ad(3)
    big = ad.resize((5400, 5400), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    big.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {"compress_level": 1}))
    small = io.BytesIO()
    ad.save(small, "PNG")
    a, b = fingerprint(buf.getvalue()), fingerprint(small.getvalue())
    assert a.phash_distance(b) <= 4 and a.dhash_distance(b) <= 6
