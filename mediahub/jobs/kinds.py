"""What each kind of job is: its parameters, how it lists its work, how it does a chunk.

A kind turns the job's cursor into the next chunk (:meth:`Kind.next_chunk`) and
does one chunk (:meth:`Kind.process`) by calling the operation functions where
the work lives (:mod:`mediahub.library.operations`,
:mod:`mediahub.jobs.thumbnail_step`, :mod:`mediahub.operations.audit`). The
task that runs them (:mod:`mediahub.jobs.runner`) knows nothing of S3.

Cursors are JSON: ``None`` (start), ``{"phase": "names", "index": i}`` (the
next of the named objects), ``{"phase": "prefix", "after": name}`` (the listing
of the folder, after ``name``) and ``{"end": true}`` (nothing left to claim).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import SuspiciousFileOperation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mediahub.library.operations import Outcome

KIND_TITLES = {
    "move": gettext_lazy("Move"),
    "delete": gettext_lazy("Delete"),
    "publish": gettext_lazy("Change visibility"),
    "thumbnails": gettext_lazy("Generate thumbnails"),
    "audit": gettext_lazy("Audit"),
}

END = {"end": True}

#: Most object names one job accepts in its parameters (a folder has no limit).
MAX_NAMES = 100_000


class JobError(ValueError):
    """Parameters a job refuses; the message says what to change. Nothing was enqueued."""


@dataclass
class ChunkResult:
    outcomes: list[Outcome] = field(default_factory=list)
    #: Replaces the job's ``result`` when not None.
    result: dict[str, Any] | None = None


class Kind:
    name = ""
    #: Library action (:mod:`mediahub.library.permissions`) a user needs, or
    #: ``None`` for ``mediahub.run_operations``.
    action: str | None = None
    allowed = frozenset({"names", "prefix"})
    library_storage = True

    # -- parameters ------------------------------------------------------------------
    def _check_params(self, params: Any) -> None:
        """:class:`JobError` unless ``params`` is a dict of this kind's parameters."""
        if not isinstance(params, dict):
            raise JobError(_("Job parameters must be a dict."))
        unknown = sorted(set(params) - self.allowed)
        if unknown:
            raise JobError(
                _("Unknown parameters for a %(kind)s job: %(names)s.")
                % {"kind": self.name, "names": ", ".join(unknown)}
            )

    def clean(self, storage: str, params: dict) -> dict:
        """Validated parameters (a new dict); :class:`JobError` otherwise."""
        from mediahub.library.permissions import check_storage
        from mediahub.names import validate_folder, validate_name
        from mediahub.storage import UnknownStorage, get_storage
        from mediahub.storage.nesting import check_not_nested_private

        self._check_params(params)
        try:
            if self.library_storage:
                check_storage(storage)
            get_storage(storage)
        except UnknownStorage as exc:
            raise JobError(str(exc)) from None
        except Exception:
            raise JobError(
                _("Unknown storage %(storage)r: use 'public' or 'private'.") % {"storage": storage}
            ) from None
        cleaned: dict[str, Any] = {}
        try:
            if "names" in params:
                names = params["names"]
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    raise JobError(_("'names' must be a list of object names."))
                if len(names) > MAX_NAMES:
                    raise JobError(
                        _("At most %(count)s names per job; select a folder instead.")
                        % {"count": MAX_NAMES}
                    )
                for name in names:
                    validate_name(name)
                cleaned["names"] = list(dict.fromkeys(names))
            if "prefix" in params:
                prefix = params["prefix"]
                if not isinstance(prefix, str):
                    raise JobError(_("'prefix' must be a folder name ending with '/'."))
                if prefix and not prefix.endswith("/"):
                    raise JobError(_("'prefix' must be a folder name ending with '/'."))
                validate_folder(prefix)
                if not prefix and not self.root_allowed:
                    raise JobError(_("The root folder cannot be moved, deleted or published."))
                cleaned["prefix"] = prefix
            # A private storage nested in this one (public at the bucket's root) is not its own.
            check_not_nested_private(storage, *cleaned.get("names", ()), cleaned.get("prefix", ""))
        except SuspiciousFileOperation as exc:
            raise JobError(_("Refused an unsafe name: %(error)s") % {"error": exc}) from None
        if self.needs_objects and "names" not in cleaned and "prefix" not in cleaned:
            raise JobError(_("Give 'names' (a list of objects) or 'prefix' (a folder)."))
        return cleaned

    needs_objects = True
    root_allowed = False

    def retry_params(self, params: dict, failed: list[str]) -> dict:
        """Parameters of a job that retries only ``failed`` items."""
        return {"names": failed}

    # -- work --------------------------------------------------------------------------
    def count(self, job) -> tuple[int | None, int | None]:
        """``(objects, bytes)`` the job will handle, or ``None`` where unknown."""
        from mediahub.library.operations import count_objects

        objects, size = len(job.params.get("names", [])), None
        if "prefix" in job.params:
            listed, size = count_objects(job.storage, job.params["prefix"])
            objects += listed
        return objects, size

    def next_chunk(self, job, cursor: dict | None, size: int) -> tuple[list[dict], dict]:
        """The items of the next chunk from ``cursor``, and the cursor after them."""
        from mediahub.library.operations import list_chunk

        cursor = cursor or {"phase": "names", "index": 0}
        if cursor.get("phase") == "names":
            names = job.params.get("names", [])
            start = cursor.get("index", 0)
            if start < len(names):
                chunk = [{"name": name} for name in names[start : start + size]]
                return chunk, {"phase": "names", "index": start + len(chunk)}
            cursor = {"phase": "prefix", "after": None}
        if "prefix" not in job.params:
            return [], END
        items, after = list_chunk(job.storage, job.params["prefix"], cursor.get("after"), size)
        items = [item for item in items if self.wants(job, item)]
        return items, ({"phase": "prefix", "after": after} if after else END)

    def wants(self, job, item: dict) -> bool:
        return True

    def process(self, job, items: list[dict], threads: int) -> ChunkResult:
        raise NotImplementedError

    def finish(self, job) -> None:
        """Once every chunk is done (by whichever worker did the last one)."""


def _remove_emptied_folders(job) -> None:
    """After a whole folder moved or deleted without failures: its emptied folders go."""
    from mediahub.library.operations import remove_empty_folders

    if job.params.get("prefix") and not job.failed_items:
        remove_empty_folders(job.storage, job.params["prefix"])


class Move(Kind):
    name = "move"
    action = "move"
    allowed = frozenset({"names", "prefix", "target", "base"})

    def clean(self, storage: str, params: dict) -> dict:
        from mediahub.library.operations import folder_exists
        from mediahub.names import validate_folder
        from mediahub.storage import get_storage
        from mediahub.storage.nesting import check_not_nested_private

        cleaned = super().clean(storage, params)
        target = params.get("target")
        if not isinstance(target, str) or (target and not target.endswith("/")):
            raise JobError(_("'target' must be a folder name ending with '/' ('' is the root)."))
        base = params.get("base", "")
        if not isinstance(base, str) or (base and not base.endswith("/")):
            raise JobError(_("'base' must be a folder name ending with '/'."))
        try:
            validate_folder(target)
            validate_folder(base)
            check_not_nested_private(storage, target, base)
        except SuspiciousFileOperation as exc:
            raise JobError(_("Refused an unsafe name: %(error)s") % {"error": exc}) from None
        cleaned["target"] = target
        if base:
            cleaned["base"] = base
        from mediahub.library.operations import moved_name

        for name in cleaned.get("names", ()):
            if moved_name(name, base=base, target=target) == name:
                raise JobError(
                    _("%(name)s is in the target folder already; choose another folder.")
                    % {"name": name}
                )
        prefix = cleaned.get("prefix")
        if prefix is not None:
            if target == prefix:
                raise JobError(_("Choose a different folder name."))
            if target.startswith(prefix):
                raise JobError(_("A folder cannot be moved into itself."))
            if folder_exists(get_storage(storage), target):
                raise JobError(
                    _(
                        "%(path)s exists already; choose another name (nothing is merged "
                        "or overwritten)."
                    )
                    % {"path": target}
                )
        return cleaned

    def retry_params(self, params: dict, failed: list[str]) -> dict:
        base = params.get("prefix", params.get("base", ""))
        retry = {"names": [n for n in failed if not n.endswith("/")], "target": params["target"]}
        if base:
            retry["base"] = base
        return retry

    def process(self, job, items, threads):
        from mediahub.library.operations import move_objects

        base = job.params.get("prefix", job.params.get("base", ""))
        return ChunkResult(
            move_objects(
                job.storage, items, base=base, target=job.params["target"], threads=threads
            )
        )

    def finish(self, job) -> None:
        _remove_emptied_folders(job)


class Delete(Kind):
    name = "delete"
    action = "delete"

    def process(self, job, items, threads):
        from mediahub.library.operations import delete_objects

        return ChunkResult(delete_objects(job.storage, items, threads=threads))

    def finish(self, job) -> None:
        _remove_emptied_folders(job)


class Publish(Kind):
    """Make objects public (from ``private``) or private (from ``public``)."""

    name = "publish"
    action = "publish"

    def wants(self, job, item):
        return not item.get("marker")

    def process(self, job, items, threads):
        from mediahub.library.operations import publish_objects

        return ChunkResult(publish_objects(job.storage, items, threads=threads))


class Thumbnails(Kind):
    name = "thumbnails"
    action = None
    allowed = frozenset({"names", "prefix", "aliases"})
    library_storage = False
    root_allowed = True
    needs_objects = False

    def clean(self, storage, params):
        from mediahub.conf import app_settings
        from mediahub.thumbnails.naming import build_options

        cleaned = super().clean(storage, params)
        if "names" not in cleaned and "prefix" not in cleaned:
            cleaned["prefix"] = ""
        aliases = params.get("aliases") or list(app_settings.THUMBNAIL_ALIASES or {})
        if not isinstance(aliases, list) or not aliases:
            raise JobError(_("'aliases' must be a list of thumbnail aliases."))
        for alias in aliases:
            try:
                build_options(alias)
            except (ValueError, KeyError, TypeError):
                raise JobError(_("Unknown thumbnail alias %(alias)r.") % {"alias": alias}) from None
        cleaned["aliases"] = aliases
        return cleaned

    def retry_params(self, params, failed):
        return {"names": failed, "aliases": params["aliases"]}

    def count(self, job):
        if "prefix" in job.params:
            return None, None  # images are only known once listed
        return len(job.params.get("names", [])), None

    def wants(self, job, item):
        from mediahub.jobs.thumbnail_step import is_source

        return (
            not item.get("marker") and not item.get("raw") and is_source(job.storage, item["name"])
        )

    def process(self, job, items, threads):
        from mediahub.jobs.thumbnail_step import thumbnail_objects

        return ChunkResult(
            thumbnail_objects(job.storage, items, job.params["aliases"], threads=threads)
        )


class Audit(Kind):
    name = "audit"
    action = None
    allowed = frozenset({"fix", "fix_policy"})
    library_storage = False
    needs_objects = False

    def clean(self, storage, params):
        super().clean(storage, {})
        self._check_params(params)
        for key in ("fix", "fix_policy"):
            if not isinstance(params.get(key, False), bool):
                raise JobError(_("'%(name)s' must be true or false.") % {"name": key})
        return {"fix": params.get("fix", False), "fix_policy": params.get("fix_policy", False)}

    def retry_params(self, params, failed):
        return dict(params)

    def count(self, job):
        return 1, None

    def next_chunk(self, job, cursor, size):
        if cursor is None:
            return [{"name": job.storage}], END
        return [], END

    def process(self, job, items, threads):
        from mediahub.operations.audit import audit

        report = audit(
            job.storage,
            fix=job.params.get("fix", False),
            fix_policy=job.params.get("fix_policy", False),
            jobs=threads,
        )
        exposed = len(report.exposed)
        error = _("%(count)s exposures not fixed") % {"count": exposed} if exposed else None
        return ChunkResult([Outcome(job.storage, 0, error)], result=report.to_dict())


KINDS: dict[str, Kind] = {
    kind.name: kind for kind in (Move(), Delete(), Publish(), Thumbnails(), Audit())
}


def get_kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise JobError(
            _("Unknown kind of job %(kind)r; one of: %(kinds)s.")
            % {"kind": name, "kinds": ", ".join(KINDS)}
        ) from None
