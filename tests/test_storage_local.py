"""Local-folder and in-memory storages offer the same listing and copy as S3."""

from __future__ import annotations

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile

from mediahub.storage.local import PrivateFileSystemStorage, PublicFileSystemStorage
from mediahub.storage.memory import PublicMemoryStorage


@pytest.fixture(params=["local", "memory"])
def storage(request, tmp_path):
    if request.param == "local":
        return PublicFileSystemStorage(location=str(tmp_path), base_url="/media/")
    return PublicMemoryStorage()


def fill(storage, names):
    for name in names:
        storage.save(name, ContentFile(name.encode()))


def test_listing_gives_folders_and_files_with_size_and_time(storage):
    fill(storage, ["f/one.txt", "f/two.txt", "f/sub/deep.txt", "g.txt"])
    page = storage.list_folder("f/")
    assert [d.path for d in page.folders] == ["f/sub/"]
    assert [(f.path, f.size) for f in page.files] == [("f/one.txt", 9), ("f/two.txt", 9)]
    assert all(f.modified is not None for f in page.files)
    root = storage.list_folder("")
    assert [d.path for d in root.folders] == ["f/"] and [f.path for f in root.files] == ["g.txt"]


def test_listing_paginates_by_cursor_in_s3_key_order(storage):
    fill(storage, [f"m/{i:02d}.txt" for i in range(7)] + ["m/05/x.txt"])
    seen, cursor = [], None
    while True:
        page = storage.list_folder("m/", cursor=cursor, page_size=3)
        seen += [f.path for f in page.files] + [d.path for d in page.folders]
        if not page.has_next:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted([f"m/{i:02d}.txt" for i in range(7)] + ["m/05/"])
    assert len(seen) == len(set(seen)) == 8


def test_listing_filters_by_prefix_and_missing_folder_is_empty(storage):
    fill(storage, ["p/apple.txt", "p/banana.txt"])
    assert [f.name for f in storage.list_folder("p/", prefix="ap").files] == ["apple.txt"]
    assert len(storage.list_folder("nothing/here/")) == 0


def test_copy_keeps_bytes(storage):
    fill(storage, ["a.txt"])
    storage.copy("a.txt", "b/a.txt")
    assert storage.open("b/a.txt").read() == b"a.txt"


@pytest.mark.parametrize("name", ["../escape.txt", "a//b.txt", "/abs.txt", "x\x00"])
def test_unsafe_names_are_refused(storage, name):
    with pytest.raises(SuspiciousFileOperation):
        storage.save(name, ContentFile(b"x"))
    with pytest.raises(SuspiciousFileOperation):
        storage.open(name)


def test_private_local_storage_has_no_public_url(tmp_path):
    storage = PrivateFileSystemStorage(location=str(tmp_path), base_url="/leak/")
    assert storage.base_url is None
    assert storage.visibility == "private"


def test_local_save_never_overwrites(tmp_path):
    storage = PublicFileSystemStorage(location=str(tmp_path))
    first = storage.save("x.txt", ContentFile(b"1"))
    second = storage.save("x.txt", ContentFile(b"2"))
    assert first != second
    assert storage.open(first).read() == b"1"


@pytest.fixture
def rooted(tmp_path):
    """A local storage whose folder holds symlinks to a file and a folder outside it."""
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.txt").write_bytes(b"host secret")
    (outside / "dir" / "x.txt").write_bytes(b"x")
    root = tmp_path / "media"
    root.mkdir()
    (root / "ok.txt").write_bytes(b"ok")
    (root / "link.txt").symlink_to(outside / "secret.txt")
    (root / "linked").symlink_to(outside / "dir", target_is_directory=True)
    return PublicFileSystemStorage(location=str(root)), outside


def test_local_storage_never_follows_symlinks_out_of_its_folder(rooted):
    storage, outside = rooted
    page = storage.list_folder("")
    assert [f.path for f in page.files] == ["ok.txt"] and page.folders == []
    with pytest.raises(SuspiciousFileOperation):
        storage.list_folder("linked/")
    for name in ("link.txt", "linked/x.txt"):
        with pytest.raises(SuspiciousFileOperation):
            storage.open(name)
        with pytest.raises(SuspiciousFileOperation):
            storage.delete(name)
    with pytest.raises(SuspiciousFileOperation):
        storage.save("linked/new.txt", ContentFile(b"planted"))
    with pytest.raises(SuspiciousFileOperation):
        storage.copy("ok.txt", "linked/copy.txt")
    assert sorted(p.name for p in (outside / "dir").iterdir()) == ["x.txt"]
    assert (outside / "secret.txt").read_bytes() == b"host secret"


def test_symlinked_storage_folder_itself_still_works(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    storage = PublicFileSystemStorage(location=str(tmp_path / "alias"))
    storage.save("a/b.txt", ContentFile(b"1"))
    assert storage.open("a/b.txt").read() == b"1"
    assert [f.path for f in storage.list_folder("a/").files] == ["a/b.txt"]


def test_alias_lookup_survives_an_unrelated_storage_that_cannot_be_built(settings):
    from django.core.files.storage import storages

    from mediahub.storage import alias_of

    settings.STORAGES = {
        "broken": {"BACKEND": "mediahub.storage.s3.PublicS3Storage", "OPTIONS": {"nope": 1}},
        **settings.STORAGES,
    }
    assert alias_of(storages["private"]) == "private"


def test_visibility_of_a_foreign_storage_when_the_private_one_cannot_be_built(settings):
    from django.core.files.storage import InMemoryStorage

    from mediahub.storage import visibility_of

    settings.STORAGES = {
        **settings.STORAGES,
        "private": {"BACKEND": "mediahub.storage.s3.PrivateS3Storage", "OPTIONS": {"nope": 1}},
    }
    assert visibility_of(InMemoryStorage()) == "public"


def test_listing_a_file_as_a_folder_is_empty_like_on_s3(storage):
    fill(storage, ["a.txt"])
    assert len(storage.list_folder("a.txt/")) == 0
