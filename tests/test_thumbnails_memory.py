"""A process making thumbnails stays under the documented memory ceiling, whatever the image.

A fresh interpreter (so nothing else of the test run counts) sets Django up, then
thumbnails a 6,000x6,000 RGBA PNG and a 40 MP JPEG, three sizes each, from two
threads at once, and reports its peak RSS (``VmHWM``). The ceiling, as stated in
docs/explanation/thumbnails.md: the process's own baseline plus, per decode slot
(``MEDIAHUB["THUMBNAIL_MAX_DECODES"]``), 6 bytes per pixel of the largest image
allowed (``THUMBNAIL_MAX_PIXELS``): 229 MiB for the default 40 MP.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
#: Bytes per pixel a decode slot may hold: the decoded RGBA source (4), what is
#: reduced from it (at most 1) and the decoder's buffers.
BYTES_PER_PIXEL = 6
#: A whole process with default settings (docs/explanation/thumbnails.md).
PROCESS_CEILING_MIB = 400

CHILD = r"""
import json, os, sys, threading
import django
django.setup()
from django.conf import settings
from django.core.files.storage import storages
from mediahub import dsn

folder = sys.argv[1]
local = dsn.parse(f"file://{folder}?url=/media/")
settings.STORAGES = {**settings.STORAGES, "default": local, "easy_thumbnails": local}
storages._storages = {}
storages._backends = None
storages.__dict__.pop("backends", None)

from mediahub.thumbnails import generate, naming
from mediahub.thumbnails.storages import resolve_target


def peak():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) * 1024


target = resolve_target("public")
baseline = peak()
errors = []


def thumbnail(name):
    specs = []
    for size, crop in (((80, 80), "smart"), ((400, 300), None), ((1200, 1200), None)):
        options = naming.build_options(size=size, **({"crop": crop} if crop else {}))
        specs.append(generate.Spec(options, naming.stem(target.prefix, name, options)))
    try:
        result = generate.render(generate.Job(target, name, specs))
    except Exception as error:
        errors.append(repr(error))
        return
    errors.extend(made.error for made in result.made if made.error)
    errors.extend(f"{name}: no {made.name}" for made in result.made if not made.error
                  and not os.path.exists(os.path.join(folder, made.name)))


threads = [threading.Thread(target=thumbnail, args=(name,)) for name in sys.argv[2:]]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"baseline": baseline, "peak": peak(), "errors": errors}))
"""


def big_png(path: Path, side: int = 6000) -> None:
    gradient = Image.radial_gradient("L").resize((side, side))
    turned = gradient.transpose(Image.Transpose.ROTATE_90)
    Image.merge("RGBA", (gradient, turned, gradient, turned)).save(path, compress_level=1)


def big_jpeg(path: Path, width: int = 7296, height: int = 5472) -> None:  # 39.9 MP
    gradient = Image.linear_gradient("L").resize((width, height))
    flipped = gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    Image.merge("RGB", (gradient, flipped, gradient)).save(path, quality=85)


def run_child(folder: Path, *names: str, **mediahub) -> dict:
    shutil.rmtree(folder / "thumbnails", ignore_errors=True)  # every run makes them anew
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    script = CHILD
    if mediahub:
        script = script.replace(
            "folder = sys.argv[1]",
            f"settings.MEDIAHUB = {{**getattr(settings, 'MEDIAHUB', {{}}), **{mediahub!r}}}\n"
            "folder = sys.argv[1]",
        )
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script, str(folder), *names],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def big_images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("big")
    big_png(folder / "big.png")
    big_jpeg(folder / "big.jpg")
    return folder


@pytest.mark.slow
def test_peak_memory_of_big_png_and_40mp_jpeg_at_once_stays_under_the_ceiling(big_images):
    result = run_child(big_images, "big.png", "big.jpg")

    assert result["errors"] == []
    used = result["peak"] - result["baseline"]
    # One decode slot (the default): the two images never are in memory together.
    assert used <= BYTES_PER_PIXEL * 40_000_000, f"{used / MIB:.0f} MiB over the baseline"
    assert result["peak"] <= PROCESS_CEILING_MIB * MIB, f"peak {result['peak'] / MIB:.0f} MiB"


@pytest.mark.slow
def test_decode_slots_bound_memory_however_many_threads_ask(big_images):
    # Two copies of the big PNG in two threads: with one slot they are decoded in turn.
    (big_images / "copy.png").write_bytes((big_images / "big.png").read_bytes())
    one = run_child(big_images, "big.png", "copy.png")
    two = run_child(big_images, "big.png", "copy.png", THUMBNAIL_MAX_DECODES=2)

    used_one = one["peak"] - one["baseline"]
    used_two = two["peak"] - two["baseline"]
    assert used_one <= BYTES_PER_PIXEL * 40_000_000, f"{used_one / MIB:.0f} MiB"
    # Two slots let both be decoded at once: clearly more (the cap is what bounds it).
    assert used_two > used_one * 1.5, (used_one / MIB, used_two / MIB)
