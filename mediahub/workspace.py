"""Heavy work on the instance's own temporary directory, published once at the end.

Remote storage is slow and an instance's disk does not last: fetch what you need
into a temporary directory, work there with ordinary file APIs, and let the
workspace upload the results::

    from mediahub.workspace import workspace

    with workspace(inputs=["raw/video.mov"], storage="private") as ws:
        subprocess.run(["ffmpeg", "-i", ws.path("raw/video.mov"), ws.output("out/video.mp4")])
    # out/video.mp4 is now in the private storage; the temporary directory is gone.

* Inputs are streamed in 1 MiB chunks (bounded memory, whatever their size).
* Outputs are **uploaded, then published**: each goes first to a staging name under
  ``.mediahub-workspace/<id>/`` of the target storage, and only when every upload
  succeeded are they copied (server-side on S3) to their real names: a failed upload
  publishes nothing, and no reader ever sees a half-written object.
* On error (in the caller's block or while uploading) nothing is published, staged
  objects are deleted, and the temporary directory is removed; the error propagates.
* S3 failures are retried where safe (:mod:`mediahub.retry`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable
from types import TracebackType

from django.core.files.storage import Storage

from mediahub import retry
from mediahub.names import validate_name
from mediahub.operations import transfer
from mediahub.storage import get_storage

#: Folder (inside the target storage) where outputs wait to be published.
STAGING_FOLDER = ".mediahub-workspace"


class Workspace:
    """A temporary directory with named inputs fetched and declared outputs published."""

    def __init__(
        self,
        inputs: Iterable[str] = (),
        *,
        storage: str | Storage = "public",
        output_storage: str | Storage | None = None,
        outputs: Iterable[str] = (),
        prefix: str = "mediahub-",
    ) -> None:
        self.storage = _storage(storage)
        self.output_storage = self.storage if output_storage is None else _storage(output_storage)
        self.directory: str | None = None
        self.prefix = prefix
        self.published: list[str] = []
        self._id = uuid.uuid4().hex
        self.inputs = [validate_name(name) for name in inputs]
        self.outputs: list[str] = []
        for name in outputs:
            self.output(name)

    # -- inside the block --------------------------------------------------------------
    def path(self, name: str) -> str:
        """Local path of ``name`` (an input, an output, or any scratch file)."""
        if self.directory is None:
            raise RuntimeError("The workspace is not open: use it in a with-block.")
        validate_name(name)
        return os.path.join(self.directory, "files", *name.split("/"))

    def output(self, name: str) -> str:
        """Declare ``name`` an output (published at the end); returns its local path."""
        validate_name(name)
        if name not in self.outputs:
            self.outputs.append(name)
        if self.directory is None:
            return ""
        path = self.path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def fetch(self, name: str) -> str:
        """Download ``name`` from the input storage now (chunked); returns its local path."""
        path = self.path(name)
        transfer.download(self.storage, name, path)
        return path

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> Workspace:
        self.directory = tempfile.mkdtemp(prefix=self.prefix)
        try:
            os.makedirs(os.path.join(self.directory, "files"))
            for name in self.outputs:
                self.output(name)
            for name in self.inputs:
                self.fetch(name)
        except BaseException:
            self._cleanup()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self.publish()
        finally:
            self._cleanup()

    def publish(self) -> list[str]:
        """Upload every output to staging, then copy each to its real name."""
        missing = [name for name in self.outputs if not os.path.isfile(self.path(name))]
        if missing:
            raise FileNotFoundError(
                "Declared workspace outputs were not written: " + ", ".join(missing)
            )
        target = self.output_storage
        staged: list[tuple[str, str]] = []
        try:
            for name in self.outputs:
                staging = f"{STAGING_FOLDER}/{self._id}/{name}"
                staged.append((name, staging))
                transfer.upload(target, self.path(name), staging)
            for name, staging in staged:
                retry.call(target.copy, staging, name, source=target)
                self.published.append(name)
        finally:
            _delete_quietly(target, [staging for _name, staging in staged])
        return self.published

    def _cleanup(self) -> None:
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)


def workspace(
    inputs: Iterable[str] = (),
    *,
    storage: str | Storage = "public",
    output_storage: str | Storage | None = None,
    outputs: Iterable[str] = (),
) -> Workspace:
    """A :class:`Workspace` (use it as a context manager)."""
    return Workspace(inputs, storage=storage, output_storage=output_storage, outputs=outputs)


def _storage(value: str | Storage) -> Storage:
    return get_storage(value) if isinstance(value, str) else value


def _delete_quietly(storage: Storage, names: list[str]) -> None:
    if not names:
        return
    try:
        transfer.delete_objects(storage, names)
    except Exception:  # noqa: S110 - best effort: a leftover staged object is harmless
        pass
