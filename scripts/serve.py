"""``make serve``: the example project as it runs in production, on this machine.

``collectstatic --noinput`` (WhiteNoise's compressed, hashed files), ``migrate``, then
gunicorn and the job worker side by side; Ctrl-C (or SIGTERM) stops both. Settings come
from the environment (see ``example_project/settings.py``); with no
``DEFAULT_STORAGE_DSN`` it starts the embedded S3 server with two buckets first, so the
site has real buckets to serve media from. ``DEBUG`` stays off unless ``DJANGO_DEBUG=1``.

    .venv/bin/python scripts/serve.py                 # http://127.0.0.1:8000/
    MEDIAHUB_SERVE_PORT=8080 MEDIAHUB_SERVE_WORKERS=4 .venv/bin/python scripts/serve.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mediahub.testing.s3server import MotoServer, create_layout  # noqa: E402

HOST = os.environ.get("MEDIAHUB_SERVE_HOST", "127.0.0.1")
PORT = int(os.environ.get("MEDIAHUB_SERVE_PORT", "8000"))
WORKERS = int(os.environ.get("MEDIAHUB_SERVE_WORKERS", "2"))


def _stop(signum, frame):
    raise KeyboardInterrupt


def worker_command(env: dict) -> list[str] | None:
    """The job worker for the task engine the settings pick (none for "immediate")."""
    engine = env.get("MEDIAHUB_TASKS") or ("rq" if env.get("REDIS_URL") else "database")
    manage = [sys.executable, str(ROOT / "manage.py")]
    if engine == "database":
        return [*manage, "db_worker"]
    if engine == "rq":
        return [*manage, "rqworker", "--with-scheduler"]
    return None


def terminate(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
    site = f"http://{HOST}:{PORT}"
    env.setdefault("DJANGO_ALLOWED_HOSTS", f"{HOST},localhost")
    env.setdefault("DJANGO_CSRF_TRUSTED_ORIGINS", f"{site},http://localhost:{PORT}")
    s3 = None
    processes: list[subprocess.Popen] = []
    try:
        if not env.get("DEFAULT_STORAGE_DSN"):
            s3 = MotoServer().start()
            layout = create_layout(
                s3.endpoint,
                "mediahub-public",
                "mediahub-private",
                cors_origins=[site, f"http://localhost:{PORT}"],
            )
            env["DEFAULT_STORAGE_DSN"] = layout.public_dsn
            env["PRIVATE_STORAGE_DSN"] = layout.private_dsn
            print(f"Embedded S3 server on {s3.endpoint} (data in memory)", flush=True)
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "collectstatic", "--noinput", "-v", "0"], check=True, env=env)
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], check=True, env=env)
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "example_project.wsgi:application",
                    "--bind",
                    f"{HOST}:{PORT}",
                    "--workers",
                    str(WORKERS),
                    "--access-logfile",
                    "-",
                ],
                cwd=ROOT,
                env=env,
            )
        )
        worker = worker_command(env)
        if worker:
            processes.append(subprocess.Popen(worker, cwd=ROOT, env=env))
        print(f"\n  Site:  {site}/\n  Admin: {site}/admin/\n  Ctrl-C stops everything.\n", flush=True)
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        failed = next(process for process in processes if process.poll() is not None)
        print(f"{' '.join(map(str, failed.args[:4]))} exited ({failed.returncode})", flush=True)
        return failed.returncode or 1
    except KeyboardInterrupt:
        return 0
    except subprocess.CalledProcessError as error:
        return error.returncode
    finally:
        terminate(processes)
        if s3 is not None:
            s3.stop()


if __name__ == "__main__":
    sys.exit(main())
