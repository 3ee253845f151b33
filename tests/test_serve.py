"""``make serve``: the example project under gunicorn with WhiteNoise and the job worker."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from io import BytesIO
from pathlib import Path

import pytest
import requests
from django.urls import reverse

from mediahub.testing.s3server import free_port

ROOT = Path(__file__).resolve().parent.parent


def serve_env(s3, tmp_path: Path, port: int) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DJANGO_DEBUG", "REDIS_URL", "STATIC_STORAGE_DSN"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="example_project.settings",
        MEDIAHUB_DEMO_VAR=str(tmp_path),
        DEFAULT_STORAGE_DSN=s3.layout.public_dsn,
        PRIVATE_STORAGE_DSN=s3.layout.private_dsn,
        MEDIAHUB_SERVE_PORT=str(port),
        MEDIAHUB_SERVE_WORKERS="1",
        MEDIAHUB_TASKS="database",
        DJANGO_SECRET_KEY="serve-test-secret-key-long-enough-for-a-test-run",
        DJANGO_SUPERUSER_PASSWORD="serve-admin-pw",
    )
    return env


def manage(env: dict, *args: str) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"scripts/serve.py exited with {process.returncode}")
        try:
            if requests.get(url, timeout=10).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or its worker still importing Django
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def children(pid: int) -> list[str]:
    """Command lines of the direct children of ``pid`` (Linux /proc)."""
    try:
        ids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    lines = []
    for child in ids:
        try:
            lines.append(Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return lines


def sample_png() -> bytes:
    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.slow
@pytest.mark.browser
def test_make_serve_runs_the_admin_library_under_gunicorn_with_its_static_files(
    s3, tmp_path, browser_page
):
    s3.client().put_object(
        Bucket=s3.public_bucket, Key="photos/sky.png", Body=sample_png(), ContentType="image/png"
    )
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    env = serve_env(s3, tmp_path, port)
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "createsuperuser", "--noinput", "--username", "boss", "--email", "b@example.com")
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "serve.py")],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(f"{site}/admin/login/", process)
        running = " | ".join(children(process.pid))
        assert "gunicorn" in running and "db_worker" in running, running

        responses: list[tuple[str, int]] = []
        browser_page.on("response", lambda r: responses.append((r.url, r.status)))
        page = browser_page
        page.goto(f"{site}/admin/login/")
        page.fill("#id_username", "boss")
        page.fill("#id_password", "serve-admin-pw")
        page.click("input[type=submit]")
        page.wait_for_url(re.compile(r".*/admin/$"))
        browse = reverse("admin:mediahub_browse", kwargs={"storage": "public"})
        page.goto(f"{site}{browse}?path=photos/")
        page.wait_for_load_state("networkidle")
        assert "sky.png" in page.content()

        static = [(url, status) for url, status in responses if "/static/" in url]
        scripts = [url for url, _ in static if url.endswith(".js")]
        styles = [url for url, _ in static if url.endswith(".css")]
        assert any("/static/mediahub/" in url for url in scripts), static
        assert any("/static/admin/css/" in url for url in styles), static
        assert all(status == 200 for _, status in static), static
        # WhiteNoise's manifest: hashed names (cacheable forever), compressed on request.
        library_js = next(url for url in scripts if "/static/mediahub/" in url)
        assert re.search(r"\.[0-9a-f]{12}\.js$", library_js), library_js
        answer = requests.get(library_js, headers={"Accept-Encoding": "gzip"}, timeout=5)
        assert answer.headers.get("Content-Encoding") == "gzip"
        assert "max-age=315360000" in answer.headers.get("Cache-Control", "")
        # Every image of the page (the thumbnail included) loaded.
        page.wait_for_function(
            "Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)",
            timeout=20_000,
        )
        assert not [r for r in responses if r[0].startswith(site) and r[1] >= 400], responses
        # DEBUG is off: an unknown page is the plain 404, not Django's debug page.
        missing = requests.get(f"{site}/no-such-page/", timeout=5)
        assert missing.status_code == 404 and "DEBUG = True" not in missing.text
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
    assert process.returncode == 0, (tmp_path / "serve.log").read_text(errors="replace")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{site}/admin/login/", timeout=2)
