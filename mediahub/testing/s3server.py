"""An embedded S3-compatible server (moto's server in a subprocess) on 127.0.0.1.

    with MotoServer() as server:
        layout = create_layout(server.endpoint, "media-public", "media-private")
        os.environ["DEFAULT_STORAGE_DSN"] = layout.public_dsn

The buckets are laid out as mediahub recommends: the public bucket readable
through its bucket policy, the private bucket with Block Public Access on and no
policy; no per-object ACLs.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import quote

#: Credentials the embedded server accepts (moto accepts any).
ACCESS_KEY = "mediahub-access"
SECRET_KEY = "mediahub-secret/+key"  # noqa: S105 - '/' and '+' keep the DSN percent-encoding honest
REGION = "us-east-1"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class MotoServer:
    """moto's S3 server as a child process, bound to loopback only."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or free_port(host)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> Self:
        env = dict(os.environ)
        # Answer CORS preflights from the buckets' own rules, as real S3 does.
        env.setdefault("MOTO_DISABLE_GLOBAL_CORS", "true")
        env.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "false")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=self._stderr(),
            env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited with status {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):  # noqa: S310
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto server did not answer on {self.endpoint} within {timeout} s")

    def _stderr(self) -> Any:
        """Where the server's log goes (a subclass may keep it)."""
        return subprocess.DEVNULL

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Layout:
    endpoint: str
    public_bucket: str
    private_bucket: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION

    def dsn(self, bucket: str, prefix: str = "") -> str:
        scheme = "s3+http" if self.endpoint.startswith("http://") else "s3"
        host = self.endpoint.split("://", 1)[1].rstrip("/")
        key = quote(self.access_key, safe="")
        secret = quote(self.secret_key, safe="")
        path = f"/{bucket}" + (f"/{prefix}" if prefix else "")
        return f"{scheme}://{key}:{secret}@{host}{path}?region={self.region}"

    @property
    def public_dsn(self) -> str:
        return self.dsn(self.public_bucket)

    @property
    def private_dsn(self) -> str:
        return self.dsn(self.private_bucket)

    def client(self):
        """A boto3 S3 client with the layout's credentials (SigV4, path-style)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )


def public_read_policy(bucket: str) -> str:
    """A bucket policy letting anyone read every object of ``bucket``."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicRead",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["s3:GetObject"],
                    "Resource": [f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        }
    )


BLOCK_ALL_PUBLIC_ACCESS = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def block_private_bucket(client, bucket: str) -> dict:
    """Turn all of Block Public Access on for ``bucket``; return the flags in force."""
    return apply_public_access_block(client, bucket, BLOCK_ALL_PUBLIC_ACCESS)


def apply_public_access_block(client, bucket: str, wanted: dict) -> dict:
    """Set ``bucket``'s Block Public Access flags; return the flags in force.

    Ceph RGW 16 (Debian 12) refuses every upload, the owner's included, into a bucket
    with ``BlockPublicAcls`` on (Ceph tracker #49135). When a probe upload is refused,
    that flag alone is dropped: ``IgnorePublicAcls`` still makes object ACLs
    ineffective and ``BlockPublicPolicy``/``RestrictPublicBuckets`` still refuse
    public policies, so the bucket stays private.
    """
    from botocore.exceptions import ClientError

    flags = dict(wanted)
    client.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=flags)
    probe = ".mediahub-layout-probe"
    try:
        client.put_object(Bucket=bucket, Key=probe, Body=b"")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "AccessDenied":
            raise
        flags["BlockPublicAcls"] = False
        client.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=flags)
        client.put_object(Bucket=bucket, Key=probe, Body=b"")
    client.delete_object(Bucket=bucket, Key=probe)
    return flags


def create_layout(
    endpoint: str,
    public_bucket: str,
    private_bucket: str,
    *,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    region: str = REGION,
    cors_origins: list[str] | None = None,
) -> Layout:
    """Create the two buckets (idempotent) in mediahub's recommended layout."""
    layout = Layout(endpoint, public_bucket, private_bucket, access_key, secret_key, region)
    client = layout.client()
    for bucket in (public_bucket, private_bucket):
        try:
            client.create_bucket(Bucket=bucket)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
    block_private_bucket(client, private_bucket)
    apply_public_access_block(
        client,
        public_bucket,
        {
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    client.put_bucket_policy(Bucket=public_bucket, Policy=public_read_policy(public_bucket))
    if cors_origins:
        # GET/HEAD for media loaded by JavaScript; PUT/POST with the ETag exposed for
        # the admin library's direct (browser to S3) multipart uploads, on both buckets.
        for bucket in (public_bucket, private_bucket):
            client.put_bucket_cors(
                Bucket=bucket,
                CORSConfiguration={
                    "CORSRules": [
                        {
                            "AllowedOrigins": cors_origins,
                            "AllowedMethods": ["GET", "HEAD", "PUT", "POST"],
                            "AllowedHeaders": ["*"],
                            "ExposeHeaders": ["ETag"],
                            "MaxAgeSeconds": 3600,
                        }
                    ]
                },
            )
    return layout


def main(argv: list[str] | None = None) -> int:
    """``python -m mediahub.testing.s3server``: serve two buckets until Ctrl-C.

    Prints the two DSNs as shell assignments (``DEFAULT_STORAGE_DSN=...``) first, so
    another terminal can ``export`` them; the data lives in memory only.
    """
    import argparse
    import signal

    parser = argparse.ArgumentParser(prog="python -m mediahub.testing.s3server")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--public-bucket", default="media-public")
    parser.add_argument("--private-bucket", default="media-private")
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        help="site origin allowed to load media and upload directly (repeatable)",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with MotoServer(port=args.port or None) as server:
        layout = create_layout(
            server.endpoint,
            args.public_bucket,
            args.private_bucket,
            cors_origins=args.cors_origin
            or ["http://127.0.0.1:8000", "http://localhost:8000"],
        )
        print(f"DEFAULT_STORAGE_DSN='{layout.public_dsn}'", flush=True)
        print(f"PRIVATE_STORAGE_DSN='{layout.private_dsn}'", flush=True)
        print(f"# S3 endpoint {server.endpoint}; Ctrl-C stops it.", file=sys.stderr, flush=True)
        try:
            while server.process and server.process.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
