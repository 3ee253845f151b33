"""A signed link never serves other content than it was issued for, on every path.

Every mediahub path that deletes, moves, replaces or unpublishes an object ends its
links (410), and a new object under the old name is never served by an old link.
Against moto's server over HTTP.
"""

from __future__ import annotations

import io

import pytest
import requests
from django.core.files.base import ContentFile
from django.core.management import call_command

from mediahub import links
from mediahub.models import LinkState
from mediahub.storage import get_storage

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_object_cache")]

OLD = b"%PDF-1.4 the original"
NEW = b"%PDF-1.4 SOMETHING ELSE"


def put(name: str, data: bytes = OLD, storage: str = "private") -> str:
    saved = get_storage(storage).save(name, ContentFile(data))
    assert saved == name
    return saved


def served(client, url: str) -> bytes | int:
    """The bytes a link serves, or its status when it serves nothing."""
    response = client.get(url)
    if response.status_code != 302:
        return response.status_code
    return requests.get(response["Location"], timeout=10).content


def test_storage_delete_ends_links_and_a_new_object_is_not_served(s3, client):
    name = put("docs/report.pdf")
    url = links.sign(name)
    assert served(client, url) == OLD

    get_storage("private").delete(name)
    assert served(client, url) == 410
    put(name, NEW)
    assert served(client, url) == 410  # never the new content
    assert served(client, links.sign(name)) == NEW  # a link made now serves it


def test_library_delete_move_and_publish_end_links(s3, client):
    from mediahub.library import operations

    deleted, moved, published = (put(f"lib/{n}.pdf") for n in ("deleted", "moved", "published"))
    urls = {name: links.sign(name) for name in (deleted, moved, published)}

    operations.delete_file("private", deleted)
    new_name = operations.move_file("private", moved, "lib/elsewhere.pdf")
    operations.change_visibility("private", published)

    for name in (deleted, moved, published):
        put(name, NEW)  # another object under the old name
        assert served(client, urls[name]) == 410, name
    assert served(client, links.sign(new_name)) == OLD


def test_library_folder_delete_ends_the_links_of_its_files(s3, client):
    from mediahub.library import operations

    names = [put(f"album/{i}.pdf") for i in range(3)]
    urls = links.sign_many(names)
    operations.delete_folder("private", "album/")
    for name in names:
        put(name, NEW)
        assert served(client, urls[name]) == 410


def test_field_file_delete_and_replace(s3, client):
    from example_project.demo.models import Document

    document = Document(title="t")
    document.contract.save("contract.pdf", ContentFile(OLD), save=False)
    url = document.contract.url
    assert served(client, url) == OLD

    # Replacing the file of a field writes a new object (never the same name):
    # the old link still serves what it was issued for.
    old_name = document.contract.name
    document.contract.save("contract.pdf", ContentFile(NEW), save=False)
    assert document.contract.name != old_name
    assert served(client, url) == OLD

    get_storage("private").delete(old_name)  # what a cleanup of the old file does
    assert served(client, url) == 410
    document.contract.delete(save=False)
    put(old_name, NEW)
    assert served(client, url) == 410


def test_sync_push_overwrite_and_delete_end_links(s3, client, tmp_path):
    (tmp_path / "a.txt").write_bytes(b"first")
    (tmp_path / "b.txt").write_bytes(b"kept")
    options = ["--storage", "private", "--noinput"]
    call_command("mediahub_sync", "push", str(tmp_path), *options, stdout=io.StringIO())
    replaced, kept = links.sign("a.txt"), links.sign("b.txt")
    assert served(client, replaced) == b"first"

    (tmp_path / "a.txt").write_bytes(b"second, longer")
    call_command("mediahub_sync", "push", str(tmp_path), *options, stdout=io.StringIO())
    assert served(client, replaced) == 410
    assert served(client, kept) == b"kept"  # an unchanged file keeps its links

    (tmp_path / "b.txt").unlink()
    call_command(
        "mediahub_sync", "push", str(tmp_path), *options, "--delete", stdout=io.StringIO()
    )
    put("b.txt", NEW)
    assert served(client, kept) == 410


def test_copy_onto_an_existing_name_ends_its_links(s3, client):
    storage = get_storage("private")
    target = put("copies/target.pdf")
    source = put("copies/source.pdf", NEW)
    url = links.sign(target)
    storage.copy(source, target)
    assert served(client, url) == 410


def test_every_alias_of_the_same_bucket_is_covered(s3, client, settings):
    # Two aliases on one bucket: a delete through one ends the links signed for the other.
    settings.STORAGES = {**settings.STORAGES, "archive": settings.STORAGES["private"]}
    name = put("shared/x.pdf")
    url = links.sign(name, storage="archive")
    assert served(client, url) == OLD
    get_storage("private").delete(name)
    put(name, NEW)
    assert served(client, url) == 410


def test_a_failing_database_leaves_the_object_in_place(s3, monkeypatch):
    from django.db import OperationalError

    name = put("docs/keep.pdf")

    def broken(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(links, "objects_changed", broken)
    with pytest.raises(OperationalError):
        get_storage("private").delete(name)
    assert get_storage("private").exists(name)


def test_deletes_create_one_small_row_per_object_not_per_link(s3):
    name = put("docs/many.pdf")
    for _ in range(20):
        links.sign(name)
    get_storage("private").delete(name)
    state = LinkState.objects.get()
    assert (state.storage, state.name, state.generation) == ("private", name, 2)  # before+after


def test_filer_delete_ends_links(s3, client, monkeypatch):
    from filer import settings as filer_settings
    from filer.models import File, Folder

    monkeypatch.setattr(filer_settings, "FILER_ENABLE_PERMISSIONS", False)
    folder = Folder.objects.create(name="Reports")
    filer_file = File.objects.create(
        file=ContentFile(OLD, name="r.pdf"), original_filename="r.pdf", is_public=False, folder=folder
    )
    key = filer_file.file.storage.key(filer_file.file.name)
    url = links.sign(key)
    assert served(client, url) == OLD
    filer_file.delete()
    put(key, NEW)
    assert served(client, url) == 410


def test_delete_and_move_jobs_end_links(s3, client, settings):
    from mediahub import jobs
    from mediahub.models import Job

    settings.MEDIAHUB = {**getattr(settings, "MEDIAHUB", {}), "JOB_THREADS": 1}
    doomed = [put(f"old/{i}.pdf") for i in range(3)]
    moved = put("moving/a.pdf")
    urls = links.sign_many([*doomed, moved])

    for job in (
        jobs.start("delete", storage="private", params={"prefix": "old/"}),
        jobs.start("move", storage="private", params={"prefix": "moving/", "target": "moved/"}),
    ):
        job.refresh_from_db()
        assert job.state == Job.State.SUCCEEDED, job.errors

    for name in [*doomed, moved]:
        put(name, NEW)
        assert served(client, urls[name]) == 410, name
    assert served(client, links.sign("moved/a.pdf")) == OLD


def test_an_overwriting_save_ends_the_links_of_the_object_it_replaces(s3, client, settings):
    public = dict(settings.STORAGES["default"])
    public["OPTIONS"] = {**public["OPTIONS"], "file_overwrite": True}
    settings.STORAGES = {**settings.STORAGES, "default": public}
    storage = get_storage("public")
    name = storage.save("site/logo.pdf", ContentFile(OLD))
    url = links.sign(name, storage="public")
    assert served(client, url) == OLD
    assert storage.save(name, ContentFile(NEW)) == name  # replaced in place
    assert served(client, url) == 410


def test_local_folder_delete_ends_links(client, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "mediahub.storage.local.PrivateFileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    storage = get_storage("private")
    name = storage.save("letters/a.pdf", ContentFile(OLD))
    url = storage.url(name)
    assert b"".join(client.get(url).streaming_content) == OLD
    storage.delete(name)
    storage.save(name, ContentFile(NEW))
    assert client.get(url).status_code == 410
