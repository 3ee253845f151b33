"""Two instances making the same missing thumbnail never break a live image.

Two gunicorn processes of the example project (one SQLite file between them, the
moto server behind both) get 20 parallel clients asking for the same missing
thumbnail again and again; every client follows its redirect at once. The loser of the create-if-absent write
keeps the winner's object, so every redirect must lead to the image (0 broken).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from PIL import Image

from mediahub.testing.s3server import free_port
from mediahub.thumbnails import tokens

ROOT = Path(__file__).resolve().parent.parent
SECRET = "thumbnail-race-test-secret-key-0123456789"  # noqa: S105 - a test key
PARALLEL = 20
ROUNDS = 2
#: Each client keeps asking for at least this many seconds and requests, per round.
SECONDS = 3
MIN_REQUESTS = 12

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def photo(seed: int) -> bytes:
    """A noisy 2000x2000 PNG: decoding it takes long enough for the two to overlap."""
    noise = Image.effect_noise((2000, 2000), 60 + seed).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def environment(s3, database: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MEDIAHUB_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="example_project.settings",
        DJANGO_SECRET_KEY=SECRET,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"sqlite://{database}",
        DEFAULT_STORAGE_DSN=s3.layout.public_dsn,
        PRIVATE_STORAGE_DSN=s3.layout.private_dsn,
        MEDIAHUB_TASKS="immediate",
    )
    return env


def start_instance(env: dict[str, str], port: int) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our own interpreter's gunicorn
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "example_project.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            str(PARALLEL),
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_until_up(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited"
        try:
            requests.get(f"http://127.0.0.1:{port}/media-links/t/x/", timeout=10)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not start")


@pytest.fixture
def instances(s3, tmp_path):
    database = tmp_path / "db.sqlite3"
    env = environment(s3, database)
    subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    ports = [free_port(), free_port()]
    processes = [start_instance(env, port) for port in ports]
    try:
        for port, process in zip(ports, processes, strict=True):
            wait_until_up(port, process)
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def fetch_through(base: str, path: str) -> tuple[int, int]:
    """GET the endpoint on one instance, then the thumbnail it redirects to, at once."""
    answer = requests.get(base + path, allow_redirects=False, timeout=60)
    if answer.status_code != 302:
        return answer.status_code, 0
    image = requests.get(answer.headers["Location"], timeout=30)
    return 302, image.status_code


def test_two_instances_making_one_thumbnail_never_serve_a_broken_redirect(s3, instances, settings):
    settings.SECRET_KEY = SECRET
    client = s3.client()
    broken: list[tuple[int, int]] = []
    total = 0
    for round_ in range(ROUNDS):
        name = f"race/photo-{round_}.png"
        client.put_object(Bucket=s3.public_bucket, Key=name, Body=photo(round_))
        path = tokens.make_url("default", name, {"size": [200, 200]}, None, private=False)
        # Each client asks again and again (as pages and browsers do) while the two
        # instances make and store the thumbnail, and for a while after.
        until = time.monotonic() + SECONDS

        def client_(index: int, path=path, until=until) -> list[tuple[int, int]]:
            answers: list[tuple[int, int]] = []
            while len(answers) < MIN_REQUESTS or time.monotonic() < until:
                answers.append(fetch_through(instances[index % 2], path))
            return answers

        with ThreadPoolExecutor(PARALLEL) as pool:
            answers = [answer for batch in pool.map(client_, range(PARALLEL)) for answer in batch]
        total += len(answers)
        broken += [answer for answer in answers if answer != (302, 200)]
        # Both instances converged on one object: no orphan copy, no missing one.
        thumbs = [key for key in s3.keys(s3.public_bucket, "thumbnails/race/")]
        assert len([key for key in thumbs if f"photo-{round_}.png." in key]) == 1, thumbs
    assert broken == [], f"{len(broken)} of {total} broken: {broken}"
