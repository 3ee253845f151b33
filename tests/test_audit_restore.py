"""mediahub_audit on the public storage: private objects restored or pushed there.

A backup of the private bucket restored into the public one (or a folder of private
files pushed there) must not pass the audit with exit 0: such objects carry the
private mark (x-amz-meta-mediahub-visibility) or are the files of private model
fields / private filer files; ``--fix`` moves them back or removes the public copy
of an identical private twin; a second run changes nothing.
"""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages

from mediahub.operations import transfer
from mediahub.storage.s3 import VISIBILITY_METADATA
from tests.commands import run_audit as run

pytestmark = pytest.mark.django_db


def metadata(s3, bucket: str, key: str) -> dict[str, str]:
    return s3.client().head_object(Bucket=bucket, Key=key)["Metadata"]


def restore_to_public(s3, key: str) -> None:
    """What a backup restore to the wrong bucket does: a server-side copy keeping metadata."""
    s3.client().copy_object(
        Bucket=s3.public_bucket,
        Key=key,
        CopySource={"Bucket": s3.private_bucket, "Key": key},
        MetadataDirective="COPY",
    )


# -- the mark ---------------------------------------------------------------------------
def test_every_private_write_path_marks_the_object(s3, tmp_path):
    private, public = storages["private"], storages["default"]
    saved = private.save("docs/a.pdf", ContentFile(b"%PDF-1 secret"))
    assert metadata(s3, s3.private_bucket, saved) == {VISIBILITY_METADATA: "private"}
    # sync push (mediahub_sync) writes with the storage's parameters too
    local = tmp_path / "b.pdf"
    local.write_bytes(b"%PDF-2")
    transfer.upload(private, str(local), "docs/b.pdf")
    assert metadata(s3, s3.private_bucket, "docs/b.pdf")[VISIBILITY_METADATA] == "private"
    # a field form post (PrivateFileField) goes through the storage's save
    from example_project.demo.models import Document

    doc = Document(title="t")
    doc.contract.save("c.pdf", ContentFile(b"%PDF-3"), save=True)
    assert metadata(s3, s3.private_bucket, doc.contract.name)[VISIBILITY_METADATA] == "private"
    # the public storage does not mark
    name = public.save("img/a.txt", ContentFile(b"hello"))
    assert VISIBILITY_METADATA not in metadata(s3, s3.public_bucket, name)


@pytest.mark.s3semantics
def test_a_server_side_copy_keeps_the_mark(s3):
    storages["private"].save("docs/a.pdf", ContentFile(b"%PDF"))
    restore_to_public(s3, "docs/a.pdf")
    assert metadata(s3, s3.public_bucket, "docs/a.pdf")[VISIBILITY_METADATA] == "private"


# -- finding and fixing -----------------------------------------------------------------------
@pytest.mark.s3semantics
def test_restored_private_object_is_exposed_then_public_copy_removed_when_twin_identical(s3):
    storages["private"].save("docs/contract.pdf", ContentFile(b"%PDF secret"))
    storages["default"].save("img/logo.txt", ContentFile(b"public"))
    restore_to_public(s3, "docs/contract.pdf")
    assert s3.anonymous_get(s3.public_bucket, "docs/contract.pdf").status_code == 200

    code, out = run("--storage", "public")
    assert code == 1, out
    assert "EXPOSED private-object: docs/contract.pdf" in out
    assert "x-amz-meta-mediahub-visibility" in out
    assert "img/logo.txt" not in out
    assert "docs/contract.pdf" in s3.keys(s3.public_bucket)  # nothing changed without --fix

    code, out = run("--storage", "public", "--fix")
    assert code == 0, out
    assert "FIXED private-object: docs/contract.pdf" in out
    assert "deleted the public copy" in out
    assert s3.keys(s3.public_bucket) == ["img/logo.txt"]
    assert s3.anonymous_get(s3.public_bucket, "docs/contract.pdf").status_code in (403, 404)
    body = s3.client().get_object(Bucket=s3.private_bucket, Key="docs/contract.pdf")["Body"]
    assert body.read() == b"%PDF secret"

    code, out = run("--storage", "public", "--fix")
    assert code == 0 and "0 fixed" in out and "FIXED" not in out


@pytest.mark.s3semantics
def test_private_object_without_twin_is_moved_back_server_side(s3):
    client = s3.client()
    storages["private"].save("scans/s.txt", ContentFile(b"scan"))
    restore_to_public(s3, "scans/s.txt")
    client.delete_object(Bucket=s3.private_bucket, Key="scans/s.txt")  # lost on the private side
    client.put_object(  # a restore from an archive tool: metadata and headers as written
        Bucket=s3.public_bucket,
        Key="scans/t.html",
        Body=b"<p>private</p>",
        ContentType="text/html",
        ContentDisposition="attachment",
        Metadata={VISIBILITY_METADATA: "private"},
    )

    code, out = run("--storage", "public", "--fix")
    assert code == 0, out
    assert out.count("moved to the private storage") == 2
    assert s3.keys(s3.public_bucket) == []
    moved = client.head_object(Bucket=s3.private_bucket, Key="scans/t.html")
    assert moved["ContentType"] == "text/html"
    assert moved["ContentDisposition"] == "attachment"
    assert moved["Metadata"][VISIBILITY_METADATA] == "private"
    assert storages["private"].open("scans/s.txt").read() == b"scan"

    code, out = run("--storage", "public", "--fix")
    assert code == 0 and "FIXED" not in out


def test_different_private_object_under_the_same_name_is_never_overwritten(s3):
    client = s3.client()
    storages["private"].save("docs/a.txt", ContentFile(b"the private one"))
    client.put_object(
        Bucket=s3.public_bucket,
        Key="docs/a.txt",
        Body=b"an older version",
        Metadata={VISIBILITY_METADATA: "private"},
    )
    code, out = run("--storage", "public", "--fix")
    assert code == 1, out
    assert "different object under this name" in out
    assert storages["private"].open("docs/a.txt").read() == b"the private one"
    assert "docs/a.txt" in s3.keys(s3.public_bucket)


def test_names_of_private_fields_are_cross_checked_even_without_the_mark(s3):
    from example_project.demo.models import Document

    client = s3.client()
    Document.objects.create(title="a", contract="contracts/deal.pdf", scan="scans/id.png")
    # A pre-mark backup pushed into the public bucket: no metadata at all.
    client.put_object(Bucket=s3.public_bucket, Key="contracts/deal.pdf", Body=b"%PDF deal")
    client.put_object(Bucket=s3.public_bucket, Key="scans/id.png", Body=b"png")
    code, out = run("--storage", "public", "--json")
    assert code == 1
    (report,) = json.loads(out)["storages"]
    found = {f["target"]: f["detail"] for f in report["findings"] if f["kind"] == "private-object"}
    assert set(found) == {"contracts/deal.pdf", "scans/id.png"}
    assert "demo.Document.contract" in found["contracts/deal.pdf"]
    assert "demo.Document.scan" in found["scans/id.png"]

    code, out = run("--storage", "public", "--fix")
    assert code == 0, out
    assert s3.keys(s3.public_bucket) == []
    assert sorted(s3.keys(s3.private_bucket)) == ["contracts/deal.pdf", "scans/id.png"]


def test_a_name_a_public_field_also_uses_is_not_flagged(s3):
    from example_project.demo.models import Document

    Document.objects.create(title="a", contract="shared/x.pdf", attachment="shared/x.pdf")
    s3.client().put_object(Bucket=s3.public_bucket, Key="shared/x.pdf", Body=b"%PDF")
    code, out = run("--storage", "public")
    assert code == 0, out
    assert "private-object" not in out


def test_private_filer_files_are_cross_checked(s3):
    pytest.importorskip("filer")
    from filer.models import File

    File.objects.bulk_create(
        [
            File(file="filer_private/ab/cd/secret.pdf", is_public=False, original_filename="s"),
            File(file="filer_public/ab/cd/open.pdf", is_public=True, original_filename="o"),
        ]
    )
    client = s3.client()
    client.put_object(Bucket=s3.public_bucket, Key="filer_private/ab/cd/secret.pdf", Body=b"1")
    client.put_object(Bucket=s3.public_bucket, Key="filer_public/ab/cd/open.pdf", Body=b"2")
    code, out = run("--storage", "public")
    assert code == 1
    assert "private-object: filer_private/ab/cd/secret.pdf" in out
    assert "django-filer (private)" in out
    assert "filer_public/ab/cd/open.pdf" not in out


def test_private_storage_audit_is_unchanged_by_marks(s3):
    storages["private"].save("docs/a.pdf", ContentFile(b"%PDF"))
    code, out = run("--storage", "private")
    assert code == 0, out
    assert "private-object" not in out


def test_field_names_are_looked_up_in_bounded_chunks(monkeypatch):
    from example_project.demo.models import Document
    from mediahub.operations import placement

    Document.objects.create(title="a", contract="c/1.pdf", attachment="p/1.pdf")
    Document.objects.create(title="b", contract="c/2.pdf", scan="c/2.pdf")
    names = ["c/1.pdf", "c/2.pdf", "p/1.pdf", "unknown.txt"]
    whole = placement.referenced_names(names)
    monkeypatch.setattr(placement, "LOOKUP_CHUNK", 1)
    chunked = placement.referenced_names(iter(names))
    assert chunked == whole
    assert sorted(r.label for r in whole["c/2.pdf"]) == [
        "demo.Document.contract",
        "demo.Document.scan",
    ]
    assert [r.visibility for r in whole["p/1.pdf"]] == ["public"]
    assert "unknown.txt" not in whole
