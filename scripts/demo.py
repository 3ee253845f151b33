"""``make demo``: embedded S3, buckets, database, admin user, sample data, dev server.

Everything it starts stops on Ctrl-C. Run from the repository root with the
project's virtualenv: ``.venv/bin/python scripts/demo.py``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mediahub.testing.s3server import MotoServer, create_layout  # noqa: E402

HOST = os.environ.get("MEDIAHUB_DEMO_HOST", "127.0.0.1")
PORT = int(os.environ.get("MEDIAHUB_DEMO_PORT", "8000"))
S3_PORT = int(os.environ.get("MEDIAHUB_DEMO_S3_PORT", "0")) or None


def manage(*args: str, env: dict) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, env=env)


def _stop(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    # Ctrl-C (even when started from a shell that ignores SIGINT) and SIGTERM both
    # end in the clean-up below.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    var = ROOT / "var" / "demo"
    shutil.rmtree(var, ignore_errors=True)  # the S3 server is fresh, so is the database
    var.mkdir(parents=True)
    site = f"http://{HOST}:{PORT}"
    server = MotoServer(port=S3_PORT).start()
    try:
        layout = create_layout(
            server.endpoint,
            "mediahub-public",
            "mediahub-private",
            cors_origins=[site, f"http://localhost:{PORT}"],
        )
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="example_project.settings",
            MEDIAHUB_DEMO_VAR=str(var),
            DEFAULT_STORAGE_DSN=layout.public_dsn,
            PRIVATE_STORAGE_DSN=layout.private_dsn,
            DJANGO_SUPERUSER_PASSWORD="admin",  # noqa: S105 - the demo's documented login
            PYTHONUNBUFFERED="1",
            DJANGO_DEBUG=os.environ.get("DJANGO_DEBUG", "1"),  # the demo serves static files
            MEDIAHUB_TASKS="database",  # jobs: django-tasks-db, run by the db_worker below
        )
        manage("migrate", "--noinput", "-v", "0", env=env)
        manage(
            "createsuperuser",
            "--noinput",
            "--username",
            "admin",
            "--email",
            "admin@example.com",
            env=env,
        )
        print("Loading sample files (a few thousand objects)...", flush=True)
        manage("demo_load", env=env)
        if importlib.util.find_spec("filer") is not None:
            manage("demo_load_filer", env=env)  # django-filer folders, public and private
        print(
            "\n"
            f"  Site:        {site}/\n"
            f"  Admin:       {site}/admin/   (admin / admin)\n"
            f"  S3 endpoint: {server.endpoint}  (moto server; buckets "
            f"{layout.public_bucket}, {layout.private_bucket})\n"
            f"  Public DSN:  {layout.dsn(layout.public_bucket).split('@')[-1]}\n"
            f"  Database:    {var / 'db.sqlite3'}\n"
            "  Jobs:        one `manage.py db_worker` process (admin: Media library > Jobs)\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )
        # The jobs' worker (folder moves, deletes, publishing, thumbnails, audits).
        worker = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "db_worker", "--interval", "0.5"], env=env
        )
        web = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "runserver", f"{HOST}:{PORT}", "--noreload"],
            env=env,
        )
        try:
            return web.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            for process in (web, worker):
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in (web, worker):
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
