"""``mediahub_sync``: copy between a local folder and a storage, privately.

* Unchanged files are skipped **without reading them**: a file is unchanged when its
  size and mtime are the ones recorded when it was last synced and the object still
  has the ETag it had then. That record is the sync's state file (see
  :class:`SyncState`, kept in the user's cache folder) and, on the object itself, the
  mtime in its metadata (``x-amz-meta-mediahub-mtime``, read with one HEAD when the
  state file is missing). Small files without a record are compared by MD5 with the
  ETag (multipart ETags recomputed). ``checksum=True`` always compares contents.
* A private storage stays private: objects are written with the storage's own write
  parameters (type, ``attachment`` for active content, the private mark; never a
  public ACL), unlike ``aws s3 sync`` which drops them. ``pull`` only writes local files.
* ``delete=True`` removes what is gone on the other side, and only after every copy
  succeeded: a failed run never deletes anything.
* ``jobs`` is the number of S3 requests in flight, multipart parts included
  (:class:`~mediahub.operations.transfer.RequestPool`), each transfer in bounded memory,
  with transient S3 failures retried (:mod:`mediahub.retry`).

Run without loading the whole project (no admin, no models): ``python -m
mediahub.operations.sync push LOCAL_DIR ...`` (same options as the command).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.core.files.storage import Storage

from mediahub import retry
from mediahub.names import is_valid_name
from mediahub.operations import transfer
from mediahub.operations.objects import (
    StoredObject,
    check_prefix,
    describe_storage,
    is_s3,
    iter_objects,
    nested_storages,
)
from mediahub.operations.progress import NoProgress, Progress


@dataclass
class SyncReport:
    """What a push or pull did (or, with ``dry_run``, would do)."""

    direction: str
    storage: str
    local_dir: str
    prefix: str = ""
    dry_run: bool = False
    copied: list[str] = field(default_factory=list)
    skipped: int = 0
    deleted: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    bytes_copied: int = 0
    delete_skipped: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        verb = "would copy" if self.dry_run else "copied"
        parts = [
            f"{len(self.copied)} {verb} ({_size(self.bytes_copied)})",
            f"{self.skipped} unchanged",
        ]
        if self.deleted:
            parts.append(f"{len(self.deleted)} {'would delete' if self.dry_run else 'deleted'}")
        if self.refused:
            parts.append(f"{len(self.refused)} unsafe names skipped")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return f"{self.direction.capitalize()}: " + ", ".join(parts) + "."

    def to_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "storage": self.storage,
            "local_dir": self.local_dir,
            "prefix": self.prefix,
            "dry_run": self.dry_run,
            "copied": self.copied,
            "skipped": self.skipped,
            "deleted": self.deleted,
            "failed": [{"name": n, "error": e} for n, e in self.failed],
            "refused": self.refused,
            "bytes_copied": self.bytes_copied,
            "delete_skipped": self.delete_skipped,
        }


def _size(count: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return str(count)  # pragma: no cover


@dataclass(frozen=True)
class LocalFile:
    relative: str  # posix path relative to the local folder
    path: str
    size: int
    mtime_ns: int = 0


def local_files(root: str) -> tuple[dict[str, LocalFile], list[str]]:
    """Regular files under ``root`` by relative name, and names mediahub refuses.

    Symbolic links are never followed (they may point out of the folder): they are
    refused, a linked folder as ``name/``, so that ``--delete`` keeps their objects.
    """
    found: dict[str, LocalFile] = {}
    refused: list[str] = []
    for directory, folders, files in os.walk(root):
        folders.sort()
        for folder in folders:
            path = os.path.join(directory, folder)
            if os.path.islink(path):
                refused.append(os.path.relpath(path, root).replace(os.sep, "/") + "/")
        for filename in sorted(files):
            path = os.path.join(directory, filename)
            if filename.endswith(transfer.PART_SUFFIX):
                continue
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            # Symlinks may lead out of the folder; FIFOs and devices would block the read.
            try:
                info = os.lstat(path)
            except OSError:
                refused.append(relative)
                continue
            if not stat.S_ISREG(info.st_mode) or not is_valid_name(relative):
                refused.append(relative)
                continue
            found[relative] = LocalFile(relative, path, info.st_size, info.st_mtime_ns)
    return found, refused


def _run(jobs: int, tasks: list[Callable[[], Any]]) -> list[Any]:
    """Run the tasks in ``jobs`` threads; their results in order."""
    if jobs <= 1 or len(tasks) <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return [future.result() for future in [pool.submit(task) for task in tasks]]


def _collect(report: SyncReport, results: list[tuple]) -> None:
    """Fold the per-file results (computed in threads) into the report."""
    for outcome, *rest in results:
        if outcome == "skipped":
            report.skipped += 1
        elif outcome == "copied":
            report.copied.append(rest[0])
            report.bytes_copied += rest[1]
        else:
            report.failed.append((rest[0], rest[1]))
    report.copied.sort()


def _check_jobs(jobs: int | None) -> int:
    from mediahub.conf import app_settings

    jobs = app_settings.OPERATIONS_JOBS if jobs is None else jobs
    if not isinstance(jobs, int) or not 1 <= jobs <= 64:
        raise ValueError("jobs must be between 1 and 64.")
    return jobs


# -- the state of a local folder / storage prefix pair -------------------------------------
class SyncState:
    """What the last sync saw: ``{relative name: (size, mtime_ns, ETag)}`` of one pair.

    An entry says: the local file of this size and mtime is the object with this ETag.
    The ETag comes from the listing, so an object replaced since (by anyone) no longer
    matches; the size and mtime come from ``os.stat``, so a local edit no longer matches.
    Only then is a file read or an object asked about. The file lives in the user's cache
    folder (``MEDIAHUB["SYNC_STATE_DIR"]``): losing it costs time, never correctness.
    """

    VERSION = 1

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.entries: dict[str, tuple[int, int, str]] = {}
        self.lock = threading.Lock()
        if path:
            try:
                with open(path, encoding="utf-8") as handle:
                    data = json.load(handle)
                if data.get("version") == self.VERSION:
                    self.entries = {
                        name: (int(size), int(mtime), str(etag))
                        for name, (size, mtime, etag) in data["entries"].items()
                    }
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                self.entries = {}

    @classmethod
    def of(cls, storage: Storage, prefix: str, local_dir: str) -> SyncState:
        from mediahub.conf import app_settings

        folder = app_settings.SYNC_STATE_DIR
        if folder is None:
            cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(
                os.path.expanduser("~"), ".cache"
            )
            folder = os.path.join(cache, "mediahub", "sync")
        if not folder:
            return cls(None)
        identity = json.dumps(
            [
                describe_storage(storage),
                getattr(storage, "endpoint_url", None) or "",
                getattr(storage, "location", None) or str(getattr(storage, "base_location", "")),
                prefix,
                os.path.realpath(local_dir),
            ]
        )
        digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
        return cls(os.path.join(str(folder), f"{digest}.json"))

    def matches(self, relative: str, size: int, mtime_ns: int, etag: str | None) -> bool:
        return bool(etag) and self.entries.get(relative) == (size, mtime_ns, etag)

    def record(self, relative: str, size: int, mtime_ns: int, etag: str | None) -> None:
        with self.lock:
            # A file changed within RACY_NS of now could change again with the same mtime
            # on a coarse clock (FAT: 2 s): it is checked by content next time (as git does).
            if etag and time.time_ns() - mtime_ns > RACY_NS:
                self.entries[relative] = (size, mtime_ns, etag)
            else:
                self.entries.pop(relative, None)

    def forget(self, relative: str) -> None:
        with self.lock:
            self.entries.pop(relative, None)

    def save(self, keep: set[str] | None = None) -> None:
        """Write the state (only the names in ``keep`` when given); errors are ignored."""
        if not self.path:
            return
        entries = {
            name: list(entry)
            for name, entry in sorted(self.entries.items())
            if keep is None or name in keep
        }
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            handle = tempfile.NamedTemporaryFile(
                "w", dir=os.path.dirname(self.path), suffix=".tmp", delete=False, encoding="utf-8"
            )
            with handle:
                json.dump({"version": self.VERSION, "entries": entries}, handle)
            os.replace(handle.name, self.path)
        except OSError:
            pass


#: mtimes closer to now than this are not trusted to tell a later edit (coarse clocks).
RACY_NS = 2 * 10**9
#: Files up to this size without a state entry are compared by MD5 (cheaper than a HEAD).
HASH_BELOW = 1024 * 1024


def _push_unchanged(
    s3: Any,
    storage: Storage,
    local: LocalFile,
    existing: StoredObject,
    state: SyncState,
    checksum: bool,
    part_size: int | None,
    policy: retry.RetryPolicy | None,
) -> bool:
    """True when ``existing`` already holds ``local`` (reads the file only if it must)."""
    if existing.size != local.size:
        return False
    if checksum:
        return transfer.same_content(local.path, existing.size, existing.etag, part_size=part_size)
    if state.matches(local.relative, local.size, local.mtime_ns, existing.etag):
        return True
    plain_md5 = bool(existing.etag) and "-" not in existing.etag
    if s3 is None or (plain_md5 and local.size <= HASH_BELOW):
        return transfer.same_content(local.path, existing.size, existing.etag, part_size=part_size)
    answer = retry.call(s3.head_object, Bucket=storage.bucket_name, Key=existing.key, policy=policy)
    metadata = answer.get("Metadata") or {}
    if transfer.MTIME_METADATA in metadata:
        return metadata[transfer.MTIME_METADATA] == str(local.mtime_ns)
    stored_part = metadata.get(transfer.PART_SIZE_METADATA, "")
    return transfer.same_content(
        local.path,
        existing.size,
        existing.etag,
        part_size=int(stored_part) if stored_part.isdigit() else part_size,
    )


def push(
    storage: Storage,
    local_dir: str,
    *,
    prefix: str = "",
    jobs: int | None = None,
    dry_run: bool = False,
    delete: bool = False,
    checksum: bool = False,
    progress: Progress | None = None,
    policy: retry.RetryPolicy | None = None,
) -> SyncReport:
    """Upload new and changed files of ``local_dir`` to ``storage`` under ``prefix``.

    At most ``jobs`` S3 requests are in flight at once, multipart parts included.
    """
    jobs = _check_jobs(jobs)
    prefix = check_prefix(prefix)
    _check_own_prefix(storage, prefix)
    if not os.path.isdir(local_dir):
        raise FileNotFoundError(f"{local_dir} is not a folder.")
    progress = progress or NoProgress()
    report = SyncReport("push", describe_storage(storage), local_dir, prefix, dry_run)
    remote = {item.name: item for item in iter_objects(storage, prefix, policy=policy)}
    files, report.refused = local_files(local_dir)
    part_size = transfer.transfer_part_size(storage)
    state = SyncState.of(storage, prefix, local_dir)
    progress.set_total(len(files))
    s3_storage = is_s3(storage)
    results: list[tuple] = []
    results_lock = threading.Lock()

    def finish(outcome: tuple) -> None:
        with results_lock:
            results.append(outcome)
        progress.advance()

    pending: list[LocalFile] = []
    with transfer.RequestPool(jobs) as pool:
        s3 = transfer.pool_client(storage, jobs) if s3_storage else None

        def check_one(local: LocalFile) -> None:
            """First pass: is the file unchanged? (no request unless it must ask)"""
            try:
                existing = remote.get(prefix + local.relative)
                if existing and _push_unchanged(
                    s3, storage, local, existing, state, checksum, part_size, policy
                ):
                    state.record(local.relative, local.size, local.mtime_ns, existing.etag)
                    finish(("skipped",))
                elif dry_run:
                    finish(("copied", prefix + local.relative, local.size))
                else:
                    with results_lock:
                        pending.append(local)
            except Exception as error:
                finish(("failed", prefix + local.relative, retry.describe(error)))

        def push_one(local: LocalFile, single_put_below: int) -> None:
            """Second pass: upload (one request, or a chain of part requests)."""
            name = prefix + local.relative
            try:
                if not s3_storage:
                    transfer.upload(storage, local.path, name, policy=policy)
                    state.forget(local.relative)
                    finish(("copied", name, local.size))
                    return

                def done(etag: str | None, error: BaseException | None) -> None:
                    if error is not None:
                        state.forget(local.relative)
                        finish(("failed", name, retry.describe(error)))
                    else:
                        state.record(local.relative, local.size, local.mtime_ns, etag)
                        finish(("copied", name, local.size))

                transfer.schedule_upload(
                    pool,
                    s3,
                    storage,
                    local.path,
                    name,
                    size=local.size,
                    mtime_ns=local.mtime_ns,
                    done=done,
                    policy=policy,
                    single_put_below=single_put_below,
                )
            except Exception as error:
                finish(("failed", name, retry.describe(error)))

        for local in files.values():
            pool.submit(lambda local=local: check_one(local))
        pool.join()
        # Enough files to keep every request slot busy: one PUT each (fewer requests);
        # otherwise large files go in parallel parts.
        single = transfer.SINGLE_PUT_LIMIT if len(pending) >= jobs else 0
        for local in sorted(pending, key=lambda local: -local.size):
            pool.submit(lambda local=local: push_one(local, single))
    _collect(report, results)
    progress.close()
    if not dry_run:
        # Replaced objects (written by PutObject, not through delete()): end their links.
        replaced = [r[1] for r in results if r[0] == "copied" and r[1] in remote]
        if replaced:
            _apps_ready()
            from mediahub.links import objects_changed

            objects_changed(storage, replaced)
        state.save(keep=set(files))
    if delete:
        wanted = {prefix + relative for relative in files}
        # A refused local entry (symlink, unsafe name) still exists: keep its objects;
        # so are mediahub's own folders (thumbnails, staging) that no local copy has.
        kept = tuple(prefix + relative for relative in report.refused)
        kept_folders = tuple(k for k in kept if k.endswith("/")) + tuple(
            # Unless the sync is of that folder itself (--prefix thumbnails/).
            folder
            for folder in managed_folders(storage)
            if folder.startswith(prefix) and folder != prefix
        )
        extra = sorted(
            name
            for name in remote
            if name not in wanted
            and remote[name].valid
            and name not in kept
            and not name.startswith(kept_folders)
        )
        if extra and not dry_run:
            _apps_ready()  # deletes end the objects' signed links (a database write)
        _delete(report, extra, lambda names: transfer.delete_objects(storage, names, policy=policy))
    return report


def _apps_ready() -> None:
    """Load the project's apps now if they are not (the lean entry starts without them,
    and needs them only to record that objects were replaced or deleted)."""
    from django.apps import apps

    if not apps.ready:
        import django

        django.setup()


def pull(
    storage: Storage,
    local_dir: str,
    *,
    prefix: str = "",
    jobs: int | None = None,
    dry_run: bool = False,
    delete: bool = False,
    checksum: bool = False,
    progress: Progress | None = None,
    policy: retry.RetryPolicy | None = None,
) -> SyncReport:
    """Download new and changed objects under ``prefix`` into ``local_dir``."""
    jobs = _check_jobs(jobs)
    prefix = check_prefix(prefix)
    _check_own_prefix(storage, prefix)
    progress = progress or NoProgress()
    report = SyncReport("pull", describe_storage(storage), local_dir, prefix, dry_run)
    if not dry_run:
        os.makedirs(local_dir, exist_ok=True)
    objects: list[StoredObject] = []
    for item in iter_objects(storage, prefix, policy=policy):
        relative = item.name[len(prefix) :]
        if (
            item.valid
            and is_valid_name(relative)
            and not (os.name == "nt" and windows_unsafe(relative))
            and not _through_symlink(local_dir, relative)
        ):
            objects.append(item)
        else:
            # A raw key such as "a//b" or "../x" must never become a local path.
            report.refused.append(item.name)
    files, _refused = local_files(local_dir) if os.path.isdir(local_dir) else ({}, [])
    part_size = transfer.transfer_part_size(storage)
    state = SyncState.of(storage, prefix, local_dir)
    s3 = transfer.pool_client(storage, jobs) if is_s3(storage) else None
    progress.set_total(len(objects))

    def pull_one(item: StoredObject) -> tuple:
        relative = item.name[len(prefix) :]
        target = os.path.join(local_dir, *relative.split("/"))
        try:
            try:
                info = os.stat(target)
            except OSError:
                info = None
            if info is not None and info.st_size == item.size:
                if not checksum and state.matches(
                    relative, info.st_size, info.st_mtime_ns, item.etag
                ):
                    return ("skipped",)
                if transfer.same_content(target, item.size, item.etag, part_size=part_size):
                    state.record(relative, info.st_size, info.st_mtime_ns, item.etag)
                    return ("skipped",)
            if dry_run:
                return ("copied", item.name, item.size)
            size = transfer.download(storage, item.name, target, key=item.key, policy=policy, s3=s3)
            info = os.stat(target)
            state.record(relative, info.st_size, info.st_mtime_ns, item.etag)
            return ("copied", item.name, size)
        except Exception as error:
            return ("failed", item.name, retry.describe(error))
        finally:
            progress.advance()

    _collect(report, _run(jobs, [lambda item=item: pull_one(item) for item in objects]))
    progress.close()
    if not dry_run:
        state.save(keep={item.name[len(prefix) :] for item in objects})
    if delete:
        wanted = {item.name[len(prefix) :] for item in objects}
        # Local copies of a nested storage's files are not this storage's to delete.
        foreign = tuple(n[len(prefix) :] for n in nested_storages(storage) if n.startswith(prefix))
        extra = sorted(
            relative
            for relative in files
            if relative not in wanted and not (foreign and relative.startswith(foreign))
        )

        def remove(names: list[str]) -> list[str]:
            failed = []
            for relative in names:
                try:
                    os.remove(files[relative].path)
                except OSError:
                    failed.append(relative)
            return failed

        _delete(report, extra, remove)
    return report


def managed_folders(storage: Storage) -> tuple[str, ...]:
    """Folders of ``storage`` that mediahub writes itself: its thumbnails and staging areas.

    A local folder never has them, so ``push --delete`` would wipe them: every cached
    thumbnail would then point at a missing object.
    """
    from mediahub.conf import app_settings
    from mediahub.storage import visibility_of

    setting = (
        "PRIVATE_THUMBNAIL_PREFIX"
        if visibility_of(storage) == "private"
        else "PUBLIC_THUMBNAIL_PREFIX"
    )
    folders = [getattr(app_settings, setting, ""), ".mediahub-workspace/", ".mediahub-doctor/"]
    return tuple(folder for folder in folders if isinstance(folder, str) and folder.endswith("/"))


def _check_own_prefix(storage: Storage, prefix: str) -> None:
    """Refuse a prefix that lies inside another configured storage nested in this one.

    Writing there would give that storage's objects this storage's parameters (a
    public ACL in the private area), and a pull ``--delete`` would see an empty
    listing (nested storages are left out) and delete every local file.
    """
    for nested, alias in nested_storages(storage).items():
        if prefix.startswith(nested):
            raise ValueError(
                f"--prefix {prefix!r} belongs to the storage {alias!r}: use --storage {alias}."
            )


#: Names Windows gives to devices, whatever the extension (``con.txt`` is the console).
_WINDOWS_DEVICES = frozenset(
    ["con", "prn", "aux", "nul"]
    + [f"com{n}" for n in "123456789¹²³"]
    + [f"lpt{n}" for n in "123456789¹²³"]
)


def windows_unsafe(relative: str) -> bool:
    """True for a name Windows would not store as the same file (pull on Windows).

    ``C:x`` names a drive, ``a:b`` an alternate data stream, ``con.txt`` a device,
    and a trailing dot or space is dropped (``a.`` would overwrite ``a``).
    """
    for segment in relative.split("/"):
        if any(char in segment for char in ':*?"<>|') or segment[-1] in ". ":
            return True
        if segment.split(".", 1)[0].lower().rstrip(" ") in _WINDOWS_DEVICES:
            return True
    return False


def _through_symlink(root: str, relative: str) -> bool:
    """True when a folder on the way to ``root/relative`` is a symbolic link.

    Writing there would follow the link out of the local folder.
    """
    path = root
    for segment in relative.split("/")[:-1]:
        path = os.path.join(path, segment)
        if os.path.islink(path):
            return True
        if not os.path.isdir(path):
            return False
    return False


def _delete(report: SyncReport, names: list[str], remove: Callable[[list[str]], list[str]]) -> None:
    """Delete ``names`` on the target side, only when every copy succeeded."""
    if report.failed:
        report.delete_skipped = (
            f"not deleting {len(names)} file(s): {len(report.failed)} copies failed"
        )
        return
    if not names:
        return
    if report.dry_run:
        report.deleted = names
        return
    try:
        failed = set(remove(names))
    except Exception as error:
        report.failed.append(("(delete)", retry.describe(error)))
        return
    report.deleted = [name for name in names if name not in failed]
    report.failed.extend((name, "could not delete") for name in sorted(failed))


# -- command line: manage.py mediahub_sync, and python -m mediahub.operations.sync --------
HELP = (
    "Copy between a local folder and a storage, skipping unchanged files (size and "
    "mtime, or with --checksum their MD5/ETag) and keeping private objects private. "
    "push uploads, pull downloads."
)


class SyncError(Exception):
    """A one-line failure of the command (``CommandError`` under ``manage.py``)."""

    def __init__(self, message: str, returncode: int = 1) -> None:
        super().__init__(message)
        self.returncode = returncode


def add_arguments(parser: Any) -> None:
    """The command's own arguments (shared by both entries)."""
    parser.add_argument(
        "direction",
        choices=["push", "pull"],
        help="push: local folder to storage; pull: storage to local folder.",
    )
    parser.add_argument("local_dir", metavar="LOCAL_DIR", help="The local folder.")
    parser.add_argument(
        "--storage",
        default="public",
        metavar="ALIAS",
        help="public, private or a STORAGES alias (default: public).",
    )
    parser.add_argument("--prefix", default="", help="Folder inside the storage.")
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="S3 requests in flight at once, multipart parts included "
        "(default: MEDIAHUB['OPERATIONS_JOBS']).",
    )
    parser.add_argument(
        "--checksum",
        action="store_true",
        help="Compare contents (MD5/ETag) instead of size and mtime: reads every "
        "file of the same size.",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="Show what would change; change nothing."
    )
    parser.add_argument(
        "--delete",
        action="store_true",
        help="Delete what is gone on the other side (after every copy succeeded).",
    )
    parser.add_argument(
        "--noinput",
        "--no-input",
        action="store_false",
        dest="interactive",
        help="Do not ask before deleting.",
    )
    parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
    parser.add_argument(
        "--thumbnails",
        action="store_true",
        help="push: have job workers make the thumbnails of the images uploaded "
        "(MEDIAHUB['THUMBNAIL_ALIASES']).",
    )


def run_command(options: dict, out: Callable[[str], Any], err: Callable[[str], Any]) -> None:
    """Run a push or pull from parsed options, writing lines with ``out``/``err``.

    Raises :class:`SyncError` (one line) for bad input, a failed run or failed files.
    """
    from django.core.exceptions import SuspiciousFileOperation

    from mediahub.operations.progress import for_command
    from mediahub.storage import UnknownStorage, get_storage

    try:
        storage = get_storage(options["storage"])
    except UnknownStorage as error:
        raise SyncError(str(error)) from None
    except Exception as error:  # ImproperlyConfigured, TypeError... (check: E009)
        raise SyncError(
            f"the storage {options['storage']!r} cannot be built: {type(error).__name__}: {error}"
        ) from None
    direction, local_dir = options["direction"], options["local_dir"]
    if options["jobs"] is not None and not 1 <= options["jobs"] <= 64:
        raise SyncError("--jobs must be between 1 and 64.")
    if options["delete"] and options["interactive"] and not options["dry_run"]:
        side = "the storage" if direction == "push" else local_dir
        answer = _ask(
            f"Files missing from the source will be DELETED from {side}.\n"
            "Type 'yes' to continue, or 'no' to cancel: "
        )
        if answer != "yes":
            raise SyncError("Sync cancelled.")
    if options.get("thumbnails") and direction != "push":
        raise SyncError("--thumbnails applies to push (a pull changes no stored image).")
    run = push if direction == "push" else pull
    try:
        report = run(
            storage,
            local_dir,
            prefix=options["prefix"],
            jobs=options["jobs"],
            dry_run=options["dry_run"],
            delete=options["delete"],
            checksum=options["checksum"],
            progress=for_command(direction.capitalize(), options),
        )
    except (FileNotFoundError, SuspiciousFileOperation, ValueError) as error:
        raise SyncError(str(error)) from None
    except Exception as error:
        raise SyncError(retry.describe(error, action=direction)) from None
    write_report(report, options, out, err)
    if options.get("thumbnails") and report.copied and not report.dry_run:
        _schedule_thumbnails(options, report.copied, out)
    if report.failed:
        raise SyncError(
            f"{len(report.failed)} file(s) failed; run again to retry them"
            + (" (nothing was deleted)." if options["delete"] else "."),
        )


def _schedule_thumbnails(options: dict, names: list[str], out: Callable[[str], Any]) -> None:
    """``--thumbnails``: one thumbnails job for the images pushed (others are ignored)."""
    from django.apps import apps

    if not apps.ready:  # the lean entry: a job is a model, so the apps are needed now
        import django

        django.setup()
    from mediahub.thumbnails import schedule

    try:
        job = schedule(options["storage"], names)
    except Exception as error:
        raise SyncError(
            f"the files were pushed, but their thumbnails could not be scheduled: {error}"
        ) from None
    if job is not None and not options["json"] and int(options["verbosity"]) >= 1:
        out(f"Thumbnails of the images pushed: job #{job.pk}.")


def write_report(
    report: SyncReport, options: dict, out: Callable[[str], Any], err: Callable[[str], Any]
) -> None:
    if options["json"]:
        out(json.dumps(report.to_dict(), indent=2))
        return
    verbosity = int(options["verbosity"])
    verb = "Would copy" if report.dry_run else "Copied"
    if verbosity >= 2:
        for name in report.copied:
            out(f"{verb} {name}")
        for name in report.deleted:
            out(f"{'Would delete' if report.dry_run else 'Deleted'} {name}")
    for name in report.refused:
        err(f"Skipped unsafe name {name!r}")
    for name, error in report.failed:
        err(f"Failed {name}: {error}")
    if report.delete_skipped:
        err(report.delete_skipped.capitalize() + ".")
    if verbosity >= 1:
        out(report.summary())


def _ask(prompt: str) -> str:
    """The operator's answer; no terminal to answer (EOF) cancels."""
    try:
        return input(prompt)
    except EOFError:
        raise SyncError(
            "Sync cancelled: no answer to the confirmation (run with --noinput to skip it)."
        ) from None


def main(argv: list[str] | None = None) -> int:
    """``python -m mediahub.operations.sync``: the command without ``django.setup()``.

    Only the settings and the storage are loaded: not the project's apps (admin, filer,
    easy-thumbnails, Pillow...) nor Django's command machinery, which is most of a
    ``manage.py`` start-up. The settings module comes from ``--settings`` or
    ``DJANGO_SETTINGS_MODULE``. The apps are loaded later only if a database write is
    needed (replaced or deleted objects end their signed links). System checks are not
    run (``manage.py mediahub_sync`` runs the storage checks).
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mediahub.operations.sync", description=HELP)
    add_arguments(parser)
    parser.add_argument("--settings", help="The settings module (else DJANGO_SETTINGS_MODULE).")
    parser.add_argument("--pythonpath", help="A folder to add to the Python path.")
    parser.add_argument(
        "-v", "--verbosity", type=int, choices=[0, 1, 2, 3], default=1, help="Output level."
    )
    options = vars(parser.parse_args(sys.argv[1:] if argv is None else argv))
    if options["settings"]:
        os.environ["DJANGO_SETTINGS_MODULE"] = options["settings"]
    if options["pythonpath"]:
        sys.path.insert(0, options["pythonpath"])
    elif os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as manage.py finds the project's package
    try:
        run_command(
            options,
            lambda line: print(line, flush=True),
            lambda line: print(line, file=sys.stderr, flush=True),
        )
    except SyncError as error:
        print(f"CommandError: {error}", file=sys.stderr)
        return error.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
