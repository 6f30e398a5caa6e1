"""Signed pixel bombs: files carrying a valid C2PA manifest (signed by a foreign organisation)
whose image header claims far more pixels than they hold, or that really decode to hundreds of MB.

Each reaches one of mintloom's decoding paths the way the outside world would hand it over: an
ingredient thumbnail on the studio's asset page, `mintloom remix`, `mintloom verify`, the public
``POST /verify`` and dataset ingestion and training. Every path must refuse by name (or degrade
clearly) in bounded memory, measured as the peak RSS (VmHWM) of a fresh process, and write nothing
outside the workspace."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import c2pa
import pytest
from PIL import Image

from mintloom.provenance.content_credentials import C2paAssetSigner
from mintloom.provenance.credentials import DigitalSourceType, GenerationRecord
from mintloom.provenance.keys import KeyStore
from mintloom.studio import Studio
from tests.bombs import lying_jpeg, lying_png, lying_webp, png_bomb, tiff_bomb
from tests.conftest import PASSWORD

REPO = Path(__file__).resolve().parents[1]
BASE_MB = 260
"""Peak RSS of a fresh interpreter that imported what the path needs and handled small files;
each test adds what it may legitimately hold. A decode of the 9400² bomb alone is 353 MB."""


def _bombs() -> dict[str, tuple[str, bytes]]:
    """Name → (media type, unsigned bytes)."""
    return {
        "png-9400-real": ("image/png", png_bomb(9400, 9400)),  # 344 KB on disk, 353 MB decoded
        "png-60000-lie": ("image/png", lying_png(60_000, 60_000)),  # over Pillow's own bomb limit
        "png-9000-lie": ("image/png", lying_png(9000, 9000)),  # under Pillow's warning (89 MP)
        "png-7000-lie": ("image/png", lying_png(7000, 7000)),  # over verify's 40 MP, under 64 MP
        "jpeg-60000-lie": ("image/jpeg", lying_jpeg(60_000, 60_000)),
        "jpeg-9000-lie": ("image/jpeg", lying_jpeg(9000, 9000)),
        "webp-16000-lie": ("image/webp", lying_webp(16_000, 16_000)),
        "webp-9000-lie": ("image/webp", lying_webp(9000, 9000)),
    }


EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def _record() -> GenerationRecord:
    fields = {
        "engine": "compositor", "engine_version": "1", "recipe": "procedural-v1", "seed": 7,
        "template_hash": "ab" * 32, "parameters": {"format": "1080x1080"}, "campaign": "bomb",
        "segment_commitment": "cd" * 32, "locale": "en-US", "source_type": DigitalSourceType.ALGORITHMIC,
    }  # fmt: skip
    return GenerationRecord.model_validate(fields)


@pytest.fixture(scope="module")
def mallory(tmp_path_factory: pytest.TempPathFactory) -> C2paAssetSigner:
    ks = KeyStore(tmp_path_factory.mktemp("mallory") / "keys")
    ks.init("Mallory Inc", "es256", password=PASSWORD)
    return C2paAssetSigner(ks.signer(PASSWORD))


@pytest.fixture(scope="module")
def signed_bombs(mallory: C2paAssetSigner, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of every bomb, each signed by Mallory with a valid C2PA manifest."""
    folder = tmp_path_factory.mktemp("signed-bombs")
    for name, (media_type, data) in _bombs().items():
        signed = mallory.sign(data, media_type, _record(), title=f"{name}.{EXT[media_type]}")
        (folder / f"{name}.{EXT[media_type]}").write_bytes(signed.data)
    return folder


def with_ingredient_thumb(signer: C2paAssetSigner, thumb: bytes, media_type: str) -> bytes:
    """A small signed PNG whose parentOf ingredient carries ``thumb`` as its thumbnail resource."""
    manifest = {
        "title": "child.png", "format": "image/png", "assertions": [],
        "ingredients": [{
            "title": "parent", "relationship": "parentOf", "format": media_type,
            "thumbnail": {"format": media_type, "identifier": "bomb-thumb"},
        }],
    }  # fmt: skip
    builder = c2pa.Builder.from_json(manifest, signer._context)
    builder.add_resource("bomb-thumb", io.BytesIO(thumb))
    small = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(small, "PNG")
    out = io.BytesIO()
    builder.sign(signer._c2pa_signer(), "image/png", io.BytesIO(small.getvalue()), out)
    return out.getvalue()


def measured(code: str, *, cwd: Path = REPO, env: dict[str, str] | None = None) -> tuple[str, float]:
    """Run ``code`` in a fresh interpreter; its output and peak RSS (VmHWM) in MB."""
    script = textwrap.dedent(code) + "\nfrom tests.bombs import peak_rss_mb\nprint('RSS', peak_rss_mb())\n"
    full_env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO}", **(env or {})}
    r = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True,
                       timeout=300, check=False, env=full_env)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    out, rss = r.stdout.rsplit("RSS ", 1)
    return out, float(rss)


def _files(root: Path, but: Path | None = None) -> set[str]:
    """Every path under ``root``, except those under ``but`` (the workspace)."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if but is None or not p.is_relative_to(but)}


# -- (a) ingredient thumbnails -------------------------------------------------------------------


def test_bomb_ingredient_thumbnails_are_refused_in_bounded_memory(
    mallory: C2paAssetSigner, tmp_path: Path
) -> None:
    """Every bomb is listed but never decoded: a real PNG between the 16 MP bound and verify's 40 MP,
    and a real 16 MP TIFF (within the bound, but not a format a thumbnail is decoded from) included.
    Memory is measured from after a small thumbnail was served (imports and c2pa warmed up), against
    half the smallest decode a bomb here would cost (the TIFF's 48 MB)."""
    thumbs = {
        **_bombs(),
        "png-6300-real": ("image/png", png_bomb(6300, 6300)),  # 39.7 MP: under 40 MP, over 16 MP
        "tiff-4000-real": ("image/tiff", tiff_bomb(4000, 4000)),  # 16 MP, 48 MB decoded
    }
    for name, (media_type, data) in thumbs.items():
        (tmp_path / f"{name}.png").write_bytes(with_ingredient_thumb(mallory, data, media_type))
    small = tmp_path / "small.bin"
    small.write_bytes(with_ingredient_thumb(mallory, png_bomb(320, 200), "image/png"))
    out, rss = measured(f"""
        from pathlib import Path
        from mintloom.provenance.ingredient_thumbs import ingredient_thumbnail, ingredients
        from tests.bombs import peak_rss_mb
        print("small", ingredient_thumbnail(Path({str(small)!r}).read_bytes(), "image/png", 0) is not None)
        warm = peak_rss_mb()
        for f in sorted(Path({str(tmp_path)!r}).glob("*.png")):
            data = f.read_bytes()
            listed = [i.thumbnail is not None for i in ingredients(data, "image/png")]
            print(f.stem, listed, ingredient_thumbnail(data, "image/png", 0))
        print("delta", peak_rss_mb() - warm)
        """)  # fmt: skip
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert lines.pop("small") == "True", out  # a thumbnail within the bounds is served
    delta = float(lines.pop("delta"))
    assert set(lines) == set(thumbs), out
    assert all(v == "[True] None" for v in lines.values()), out  # listed, but never decoded or served
    assert delta < 24, (delta, out)
    assert rss < BASE_MB, (rss, out)


def test_the_thumbnail_route_answers_404_for_a_bomb_and_writes_nothing(
    mallory: C2paAssetSigner, studio: Studio
) -> None:
    from fastapi.testclient import TestClient

    from mintloom.api.app import create_app
    from mintloom.store.tokens import TokenStore
    from tests.web.test_ingredient_thumbs import _files as mtimes
    from tests.web.test_ingredient_thumbs import _studio_login, catalogue

    cid = catalogue(studio, with_ingredient_thumb(mallory, png_bomb(6300, 6300), "image/png"), "image/png")
    token = TokenStore(studio.db).create("viewer", ["read"])[1]
    before = mtimes(studio.workspace.root)
    with TestClient(create_app(studio, offline=True)) as client:
        _studio_login(client, token)
        page = client.get(f"/studio/assets/{cid}")
        assert page.status_code == 200
        got = client.get(f"/studio/assets/{cid}/ingredients/0/thumb")
        assert got.status_code == 404 and "carries no thumbnail mintloom can show" in got.text
    assert mtimes(studio.workspace.root) == before


def test_a_parent_thumbnail_is_made_without_a_full_size_copy(tmp_path: Path) -> None:
    """The signer's 160 px parent thumbnail (and the gallery's) of a large JPEG is decoded at a
    fraction of its size (JPEG draft), and a large PNG is decoded once, never copied whole. Each is
    measured in its own process, as growth after a small file of its format was thumbnailed: the
    JPEG under 1/8 of its full decode, the PNG under two full decodes (the code before the fix: 2.7x
    of either, 477 MB and 191 MB; now 5 MB and 96 MB)."""
    big = tmp_path / "big.jpg"
    Image.new("RGB", (7900, 7900), (90, 30, 160)).save(big, "JPEG", quality=70)  # 62 MP: under 64 MP
    small_jpeg = tmp_path / "small.jpg"
    Image.new("RGB", (320, 200), (90, 30, 160)).save(small_jpeg, "JPEG", quality=70)
    png, small_png = tmp_path / "big.png", tmp_path / "small.png"
    png.write_bytes(png_bomb(5000, 5000, alpha=False))
    small_png.write_bytes(png_bomb(320, 200, alpha=False))
    mib = 1024 * 1024
    cases = [(big, small_jpeg, 7900 * 7900 * 3 / mib / 8), (png, small_png, 5000 * 5000 * 3 / mib * 2)]
    for f, warm_up, bound in cases:
        out, rss = measured(f"""
            import io
            from pathlib import Path
            from PIL import Image
            from mintloom.store.thumbnails import render_thumbnail
            from tests.bombs import peak_rss_mb
            assert render_thumbnail(Path({str(warm_up)!r}).read_bytes(), edge=160) is not None
            warm = peak_rss_mb()
            thumb = render_thumbnail(Path({str(f)!r}).read_bytes(), edge=160)
            print(Image.open(io.BytesIO(thumb)).size, peak_rss_mb() - warm)
            """)  # fmt: skip
        width, height, grown = out.replace("(", " ").replace(")", " ").replace(",", " ").split()
        assert (width, height) == ("160", "160"), out
        assert float(grown) < bound, (f.name, grown, bound)
        assert rss < BASE_MB, rss


# -- (b) remix, (c) verify: the CLI ------------------------------------------------------------------


def _cli_measured(args: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[int, str, float]:
    """A `mintloom` command's exit code, stderr and peak RSS in MB (its own, from a small parent)."""
    code = f"""
        import resource, subprocess, sys
        r = subprocess.run([sys.executable, "-m", "mintloom.cli.main", *{args!r}], capture_output=True,
                           text=True, timeout=240)
        print(json.dumps([r.returncode, r.stdout + r.stderr,
                          resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024]))
        """
    r = subprocess.run(
        [sys.executable, "-c", "import json\n" + textwrap.dedent(code)], cwd=cwd, capture_output=True,
        text=True, timeout=300, check=False, env={**os.environ, "COLUMNS": "300", **env},
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    rc, text, rss = json.loads(r.stdout)
    return int(rc), " ".join(str(text).split()), float(rss)


def test_remix_refuses_every_signed_bomb_by_name(signed_bombs: Path, studio: Studio, tmp_path: Path) -> None:
    env = {"MINTLOOM_WORKSPACE": str(studio.workspace.root), "MINTLOOM_KEY_PASSWORD": PASSWORD,
           "PYTHONPATH": str(REPO / "src")}  # fmt: skip
    small = tmp_path / "small.png"
    Image.new("RGB", (64, 64)).save(small, "PNG")
    rc, text, baseline = _cli_measured(["remix", str(small), "--template", "frame", "--out", "o.png"],
                                       cwd=tmp_path, env=env)  # fmt: skip
    assert rc == 7 and "carries no Content Credential" in text, text  # after unlocking the keys (scrypt)
    before = _files(tmp_path, but=studio.workspace.root)
    for bomb in sorted(signed_bombs.iterdir()):
        out = tmp_path / f"remix-of-{bomb.stem}.png"
        rc, text, rss = _cli_measured(
            ["remix", str(bomb), "--template", "frame", "--out", str(out)], cwd=tmp_path, env=env
        )
        assert rc == 7, (bomb.name, text)  # governance
        assert "GovernanceError" in text or "parent" in text, (bomb.name, text)
        assert "over 4096 px a side" in text or "not an image mintloom can read" in text, (bomb.name, text)
        assert "Traceback" not in text, text
        assert rss < baseline + 40, (bomb.name, rss, baseline)  # a decode of the smallest is +250 MB
        assert not out.exists()
    assert _files(tmp_path, but=studio.workspace.root) == before
    assert studio.log.size == 0  # nothing was logged


def test_verify_reports_every_signed_bomb_in_bounded_memory(
    signed_bombs: Path, mallory: C2paAssetSigner, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    for bomb in signed_bombs.iterdir():
        (files / bomb.name).write_bytes(bomb.read_bytes())
    for name, (media_type, data) in _bombs().items():  # and bombs as ingredient thumbnails
        (files / f"thumb-{name}.png").write_bytes(with_ingredient_thumb(mallory, data, media_type))
    env = {"PYTHONPATH": str(REPO / "src")}
    before = _files(tmp_path)
    rc, text, rss = _cli_measured(["verify", "--offline", "--json", "-w", "2", str(files)],
                                  cwd=tmp_path, env=env)  # fmt: skip
    assert rc == 21, text  # UNTRUSTED: Mallory's credentials are valid, their signer is not trusted here
    assert "Traceback" not in text
    for f in files.iterdir():
        assert f.name in text
    assert "VERIFIED" not in text.replace("UNVERIFIED", "")
    assert rss < BASE_MB + 100, rss  # two files at once
    assert _files(tmp_path) == before


# -- (d) the public verify page ------------------------------------------------------------------


def test_public_verify_upload_of_signed_bombs_stays_bounded(signed_bombs: Path, studio: Studio) -> None:
    out, rss = measured(f"""
        from pathlib import Path
        from fastapi.testclient import TestClient
        from mintloom.api.app import create_app
        from mintloom.studio import Studio
        from mintloom.workspace import Workspace
        studio = Studio(Workspace(Path({str(studio.workspace.root)!r})))
        with TestClient(create_app(studio, offline=True)) as c:
            for f in sorted(Path({str(signed_bombs)!r}).iterdir()):
                r = c.post("/verify", files={{"file": (f.name, f.read_bytes(), "application/octet-stream")}})
                print(f.stem, r.status_code, r.json()["verdict"])
        """)  # fmt: skip
    rows = [line.split() for line in out.strip().splitlines()]
    assert len(rows) == len(_bombs()), out
    assert all(code == "200" and verdict == "UNTRUSTED" for _, code, verdict in rows), out
    assert rss < BASE_MB + 100, rss


# -- (e) dataset ingestion and training ------------------------------------------------------------


def test_dataset_ingestion_of_bombs_reads_them_without_decoding(signed_bombs: Path, tmp_path: Path) -> None:
    """Signed bombs are read by c2pa for their opt-out (mintloom's signer says notAllowed), the
    same bombs unsigned are hashed and ingested: none is decoded."""
    folder = tmp_path / "dataset"
    shutil.copytree(signed_bombs, folder / "signed")
    (folder / "plain").mkdir()
    for name, (media_type, data) in _bombs().items():
        (folder / "plain" / f"{name}.{EXT[media_type]}").write_bytes(data)
    out, rss = measured(f"""
        from pathlib import Path
        from mintloom.provenance.ingest import IngestOptions, ingest
        done = ingest(Path({str(folder)!r}), IngestOptions("CC-BY-4.0", curator="0x" + "0" * 40))
        print(len(done.entries))
        print(sorted({{(x.path.split("/")[0], x.reason) for x in done.excluded}}), len(done.excluded))
        """)  # fmt: skip
    n = len(_bombs())
    assert out.split("\n")[:2] == [f"{n}", f"[('signed', 'c2pa-training-notAllowed')] {n}"], out
    assert rss < BASE_MB, rss


@pytest.mark.parametrize("name", ["png-9400-real", "png-60000-lie", "jpeg-9000-lie", "webp-9000-lie"])
def test_training_refuses_a_bomb_image_by_name(name: str, signed_bombs: Path) -> None:
    from mintloom.engines.diffusion_training import training_pixels
    from mintloom.errors import EngineError

    [bomb] = signed_bombs.glob(f"{name}.*")
    with pytest.raises(EngineError, match=r"a training image is (\d+x\d+ pixels, )?over the limit"):
        training_pixels(bomb.read_bytes(), 64)
