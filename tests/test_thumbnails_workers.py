"""Thumbnails made by workers: schedule(), generate_batch(), pregenerate_step(), the page budget,
race-safe writes and the decode cap (moto's S3 server over HTTP; the immediate task backend)."""

from __future__ import annotations

import io
import threading
import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext, override_settings
from easy_thumbnails.models import Thumbnail
from PIL import Image

from mediahub import thumbnails as thumbs
from mediahub.thumbnails import generate, naming, tokens
from mediahub.thumbnails.pregenerate import generate_batch, pregenerate_step, walk_order
from mediahub.thumbnails.storages import resolve_target, write
from tests import thumbnail_images as images

pytestmark = pytest.mark.django_db

ALIASES = {"admin": {"size": (80, 80), "crop": "smart"}, "wide": {"size": (40, 10), "crop": True}}


@pytest.fixture
def aliases(s3):
    with override_settings(MEDIAHUB={"THUMBNAIL_ALIASES": ALIASES}):
        cache.clear()
        yield
    cache.clear()


def put(s3, key: str, body: bytes | None = None, bucket: str | None = None) -> None:
    s3.client().put_object(Bucket=bucket or s3.public_bucket, Key=key, Body=body or images.jpeg())


def thumbs_in(s3, bucket: str) -> list[str]:
    return sorted(key for key in s3.keys(bucket) if key.startswith("thumbnails/"))


# -- race-safe writes ---------------------------------------------------------------


class Recording:
    """Wraps a storage and records the names it deletes."""

    def __init__(self, storage):
        self.storage = storage
        self.deleted: list[str] = []

    def __getattr__(self, name):
        return getattr(self.storage, name)

    def save(self, name, content):
        return self.storage.save(name, content)

    def delete(self, name):
        self.deleted.append(name)
        return self.storage.delete(name)


def test_a_second_writer_keeps_the_first_thumbnail_and_drops_only_its_own_copy(s3):
    from django.core.files.base import ContentFile

    target = resolve_target("public")
    name = "thumbnails/race/a.jpg.80x80_q85.0123456789.jpg"
    first, second = images.jpeg(color="red"), images.jpeg(color="blue")
    assert write(target.thumbnail_storage, name, ContentFile(first)) == name
    storage = Recording(target.thumbnail_storage)

    assert write(storage, name, ContentFile(second)) == name

    # The object being served was never deleted; only the loser's extra copy was.
    assert name not in storage.deleted and len(storage.deleted) == 1
    assert thumbs_in(s3, s3.public_bucket) == [name]
    body = s3.client().get_object(Bucket=s3.public_bucket, Key=name)["Body"].read()
    assert body == first


def test_forced_write_replaces_in_place_without_deleting(s3, monkeypatch):
    from django.core.files.base import ContentFile

    target = resolve_target("public")
    name = "thumbnails/forced/a.jpg.80x80_q85.0123456789.jpg"
    write(target.thumbnail_storage, name, ContentFile(images.jpeg(color="red")))
    deleted = []
    cls = type(target.thumbnail_storage)
    real_delete = cls.delete
    monkeypatch.setattr(
        cls, "delete", lambda self, key: deleted.append(key) or real_delete(self, key)
    )

    write(target.thumbnail_storage, name, ContentFile(images.jpeg(color="blue")), replace=True)

    assert deleted == [] and thumbs_in(s3, s3.public_bucket) == [name]
    body = s3.client().get_object(Bucket=s3.public_bucket, Key=name)["Body"].read()
    assert images.color_of(body)[2] > 200  # blue


# -- generate_batch and pregenerate_step ---------------------------------------------------


def test_generate_batch_makes_every_alias_then_finds_them_fresh(s3, aliases, count_requests):
    put(s3, "up/a.jpg")
    put(s3, "up/b.png", images.png())
    put(s3, "up/broken.jpg", images.CORRUPT)

    report = generate_batch("public", ["up/a.jpg", "up/b.png", "up/broken.jpg", "up/a.jpg"])

    assert (report.sources, report.generated, report.fresh) == (3, 4, 0)
    assert sorted((name, alias) for name, alias, _ in report.failures) == [
        ("up/broken.jpg", "admin"),
        ("up/broken.jpg", "wide"),
    ]
    assert len(thumbs_in(s3, s3.public_bucket)) == 4
    assert thumbs.thumbnail("up/a.jpg", alias="wide").ready

    count_requests.clear()
    again = generate_batch("public", ["up/a.jpg", "up/b.png", "up/broken.jpg"])

    assert (again.generated, again.fresh, again.failed) == (0, 4, 2)
    # One GET each tells the version; no body read, no decode, no PUT.
    assert set(count_requests) == {"GetObject"} and count_requests["GetObject"] == 3


def test_generate_batch_reports_bad_names_and_missing_sources(s3, aliases):
    report = generate_batch(
        "public", ["../etc/passwd", "notes.txt", "thumbnails/x.jpg", "gone.jpg"], ["admin"]
    )

    reasons = {name: reason for name, _alias, reason in report.failures}
    assert reasons["../etc/passwd"].startswith("unsafe name")
    assert reasons["notes.txt"] == "not an image source"
    assert reasons["thumbnails/x.jpg"] == "not an image source"  # a thumbnail itself
    assert "does not exist" in reasons["gone.jpg"]
    assert report.generated == 0 and thumbs_in(s3, s3.public_bucket) == []


def test_generate_batch_records_with_a_constant_number_of_queries(s3, aliases):
    for index in range(12):
        put(s3, f"many/{index:02d}.jpg")
    generate_batch("public", ["many/00.jpg"], ["admin"])  # sources rows, warm-up

    with CaptureQueriesContext(connection) as few:
        generate_batch("public", [f"many/{index:02d}.jpg" for index in range(1, 3)], ["admin"])
    with CaptureQueriesContext(connection) as many:
        generate_batch("public", [f"many/{index:02d}.jpg" for index in range(3, 12)], ["admin"])

    assert len(many) == len(few) <= 12


def test_walk_order_is_the_listing_order():
    names = ["b.jpg", "a/z.jpg", "b-x/c.jpg", "b/a.jpg", "a/b/c.jpg", "c.jpg"]
    expected = ["b.jpg", "c.jpg", "a/z.jpg", "a/b/c.jpg", "b-x/c.jpg", "b/a.jpg"]
    assert sorted(names, key=walk_order) == expected


def test_pregenerate_step_walks_every_image_once_in_chunks(s3, aliases):
    names = ["b.jpg", "c.jpg", "a/z.jpg", "a/b/c.jpg", "b-x/c.jpg", "b/a.jpg", "b/d.jpg"]
    for name in names:
        put(s3, name)
    put(s3, "b/readme.txt", b"text")

    seen, cursor, steps = [], None, 0
    while True:
        report, cursor = pregenerate_step("public", "", cursor, limit=3, aliases=["wide"])
        seen.append(report.sources)
        steps += 1
        if cursor is None:
            break
    assert seen == [3, 3, 1] and steps == 3
    made = {key.split(".40x10")[0][len("thumbnails/") :] for key in thumbs_in(s3, s3.public_bucket)}
    assert made == set(names)
    # Resuming from any cursor is idempotent: nothing is made twice.
    again, _ = pregenerate_step("public", "", "b.jpg", limit=100, aliases=["wide"])
    assert again.generated == 0 and again.fresh == 6


# -- schedule -------------------------------------------------------------------


def test_schedule_enqueues_one_job_and_the_worker_makes_them(s3, aliases, monkeypatch):
    from mediahub import jobs

    started = []
    real_start = jobs.start

    def start(kind, **kwargs):
        started.append((kind, kwargs))
        return real_start(kind, **kwargs)

    monkeypatch.setattr(jobs, "start", start)
    put(s3, "new/a.jpg")
    put(s3, "new/b.jpg")

    job = thumbs.schedule("public", ["new/a.jpg", "new/b.jpg", "new/notes.pdf", "new/a.jpg"])

    assert [(kind, kw["params"]["names"], kw["user"]) for kind, kw in started] == [
        ("thumbnails", ["new/a.jpg", "new/b.jpg"], None)
    ]
    job.refresh_from_db()
    assert job.state == "succeeded"  # the immediate backend ran it
    assert thumbs.thumbnail("new/a.jpg", alias="admin").ready
    assert thumbs.thumbnail("new/b.jpg", alias="wide").ready
    assert thumbs.schedule("public", ["new/notes.pdf"]) is None  # not an image
    # The worker cleared the marks: a source changed again is scheduled again at once.
    assert thumbs.schedule("public", ["new/a.jpg"]) is not None and len(started) == 2


def test_schedule_does_not_enqueue_names_already_pending(s3, aliases, monkeypatch):
    from mediahub import jobs

    calls = []
    monkeypatch.setattr(jobs, "start", lambda kind, **kwargs: calls.append(kwargs) or "job")

    assert thumbs.schedule("public", ["p/a.jpg", "p/b.jpg"]) == "job"
    assert thumbs.schedule("public", ["p/a.jpg", "p/b.jpg"]) is None  # within the TTL
    assert thumbs.schedule("public", ["p/b.jpg", "p/c.jpg"]) == "job"
    assert [call["params"]["names"] for call in calls] == [["p/a.jpg", "p/b.jpg"], ["p/c.jpg"]]
    with override_settings(MEDIAHUB={"THUMBNAIL_ALIASES": ALIASES, "THUMBNAIL_SCHEDULE_TTL": 1}):
        cache.clear()
        thumbs.schedule("public", ["p/d.jpg"])
        time.sleep(1.1)
        assert thumbs.schedule("public", ["p/d.jpg"]) == "job"  # the mark expired


def test_schedule_failure_to_enqueue_lets_the_names_be_scheduled_again(s3, aliases, monkeypatch):
    from mediahub import jobs

    def broken(*args, **kwargs):
        raise RuntimeError("no task backend")

    monkeypatch.setattr(jobs, "start", broken)
    with pytest.raises(RuntimeError):
        thumbs.schedule("public", ["x/a.jpg"])
    calls = []
    monkeypatch.setattr(jobs, "start", lambda *args, **kwargs: calls.append(kwargs) or "job")
    assert thumbs.schedule("public", ["x/a.jpg"]) == "job" and len(calls) == 1


def test_schedule_refuses_unsafe_names(s3, aliases):
    from django.core.exceptions import SuspiciousFileOperation

    with pytest.raises(SuspiciousFileOperation):
        thumbs.schedule("public", ["a/../../b.jpg"])


# -- the page budget and pending thumbnails ---------------------------------------------


def test_a_page_makes_at_most_its_budget_in_request_the_rest_are_pending(s3, aliases):
    refs = [thumbs.SourceRef(f"page/{index}.jpg", etag=f"{index:032x}") for index in range(6)]

    page = thumbs.thumbnails(refs, alias="admin")
    with override_settings(MEDIAHUB={"THUMBNAIL_ALIASES": ALIASES, "THUMBNAIL_REQUEST_BUDGET": 0}):
        none = thumbs.thumbnails(refs, alias="admin")

    assert [thumb.pending for thumb in page] == [False, False, True, True, True, True]
    assert all(thumb.url.endswith(tokens.PENDING_QUERY) for thumb in page[2:])
    assert not any(thumb.url.endswith(tokens.PENDING_QUERY) for thumb in page[:2])
    assert all(thumb.pending for thumb in none)


def test_template_tag_spends_one_budget_per_rendered_page(s3, aliases):
    template = Template(
        "{% load mediahub %}{% for n in names %}{% media_thumbnail n alias='admin' as t %}"
        "{% if t.pending %}P{% else %}G{% endif %}{% endfor %}"
    )
    names = [f"tag/{index}.jpg" for index in range(5)]

    assert template.render(Context({"names": names})) == "GGPPP"
    assert template.render(Context({"names": names})) == "GGPPP"  # a new page, a new budget


def test_pending_url_hands_the_work_to_a_worker_then_redirects(s3, aliases, client, monkeypatch):
    from mediahub import jobs

    put(s3, "pend/a.jpg", images.jpeg(color="red"))
    thumb = thumbs.thumbnail("pend/a.jpg", alias="admin", budget=0)
    assert thumb.pending

    monkeypatch.setattr(jobs, "start", lambda *args, **kwargs: None)  # no worker yet
    waiting = client.get(thumb.url)
    assert waiting.status_code == 202 and waiting["Retry-After"]
    assert waiting["Content-Type"] == "image/svg+xml" and waiting["Cache-Control"] == "no-store"
    assert thumbs_in(s3, s3.public_bucket) == []  # nothing made in the request

    monkeypatch.undo()  # the worker (immediate backend) now runs
    cache.clear()
    ready = client.get(thumb.url)
    assert ready.status_code == 302
    assert len(thumbs_in(s3, s3.public_bucket)) == 1
    assert client.get(thumb.url)["Location"] == ready["Location"]


def test_pending_url_of_a_size_that_is_no_alias_is_made_in_request(s3, aliases, client):
    put(s3, "pend/b.jpg")
    thumb = thumbs.thumbnail("pend/b.jpg", size="30x30", budget=0)

    assert client.get(thumb.url).status_code == 302


def test_thumbnails_script_is_shipped():
    from django.contrib.staticfiles import finders

    path = finders.find("mediahub/thumbnails.js")
    assert path and "data-mediahub-thumbnail" in open(path).read()


# -- decoding: small and capped ----------------------------------------------------------


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


class Source:
    def __init__(self, data: bytes, wanted=None):
        self.file = io.BytesIO(data)
        self.mediahub_wanted = wanted


def test_big_jpeg_is_decoded_at_reduced_scale_and_png_reduced_before_resizing():
    jpeg = encoded(Image.linear_gradient("L").resize((4000, 3000)).convert("RGB"), "JPEG")
    png = encoded(Image.linear_gradient("L").resize((4000, 3000)).convert("RGBA"), "PNG")

    small = generate.safe_source_image(Source(jpeg), size=(80, 80), crop="smart")
    reduced = generate.safe_source_image(Source(png), size=(80, 80), crop="smart")

    # The crop needs 107x80 of it; at most 4x that (draft 1/2..1/8, then reduce).
    for image in (small, reduced):
        assert 214 <= image.width <= 4 * 107 and 160 <= image.height <= 4 * 80
    assert reduced.mode == "RGBA"


def test_strip_reduce_gives_the_same_pixels_as_a_whole_reduce():
    image = Image.effect_noise((301, 157), 80).convert("RGBA")
    with override_settings():
        original = generate.STRIP_PIXELS
        generate.STRIP_PIXELS = 5000  # many strips
        try:
            strips = generate._reduce(image, 3)
        finally:
            generate.STRIP_PIXELS = original
    assert strips.size == (101, 53) and strips.tobytes() == image.reduce(3).tobytes()


def test_palette_image_with_transparency_is_reduced_as_rgba():
    image = Image.new("P", (2000, 1000), 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.info["transparency"] = 0
    reduced = generate._reduce(image, 4)
    assert reduced.mode == "RGBA" and reduced.size == (500, 250)
    assert reduced.getpixel((10, 10)) == (255, 0, 0, 255)


def test_one_decode_for_all_the_thumbnails_of_a_source():
    data = encoded(Image.linear_gradient("L").resize((3000, 2000)).convert("RGB"), "PNG")
    source = Source(data, wanted=[((80, 80), {"crop": "smart"}), ((600, 400), {})])
    opened = []
    real_open = Image.open

    def counting_open(*args, **kwargs):
        opened.append(1)
        return real_open(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Image, "open", counting_open)
        big = generate.safe_source_image(source, size=(600, 400))
        small = generate.safe_source_image(source, size=(80, 80), crop="smart")
    assert len(opened) == 1
    assert big.width >= 1200 and small.width < big.width


def test_decodes_are_capped_per_process(s3, aliases, monkeypatch):
    from easy_thumbnails.files import Thumbnailer

    for index in range(4):
        put(s3, f"cap/{index}.jpg")
    target = resolve_target("public")
    options = naming.build_options("admin")
    running, most = 0, 0
    lock = threading.Lock()
    real = Thumbnailer.generate_thumbnail

    def slow(self, *args, **kwargs):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        try:
            return real(self, *args, **kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(Thumbnailer, "generate_thumbnail", slow)

    def make(index):
        spec = generate.Spec(options, naming.stem(target.prefix, f"cap/{index}.jpg", options))
        generate.render(generate.Job(target, f"cap/{index}.jpg", [spec]))

    workers = [threading.Thread(target=make, args=(index,)) for index in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert most == 1


def test_a_request_waits_a_bounded_time_for_a_decode_slot(s3, aliases, client, monkeypatch):
    put(s3, "busy/a.jpg")
    url = thumbs.thumbnail_url("busy/a.jpg", alias="admin")
    monkeypatch.setattr(generate, "REQUEST_DECODE_WAIT", 0.05)
    slots = generate.decode_slots()
    slots.acquire()
    try:
        response = client.get(url)
    finally:
        slots.release()

    assert response.status_code == 503 and response["Retry-After"]
    assert not Thumbnail.objects.exists()
    assert client.get(url).status_code == 302  # once a slot is free


# -- mediahub's write paths schedule thumbnails -----------------------------------------


@pytest.fixture
def scheduled(monkeypatch):
    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(thumbs, "schedule", lambda storage, names: calls.append((storage, names)))
    return calls


def test_library_upload_has_its_image_thumbnailed_by_a_worker(
    s3, aliases, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from mediahub.library.policy import save_upload

    upload = SimpleUploadedFile("cat.jpg", images.jpeg(), content_type="image/jpeg")
    with django_capture_on_commit_callbacks(execute=True):
        name = save_upload("public", "pets/", upload)

    assert name == "pets/cat.jpg"
    assert thumbs.thumbnail(name, alias="admin").ready  # the (immediate) worker made it
    assert len(thumbs_in(s3, s3.public_bucket)) == 2


def test_moves_and_publish_schedule_the_new_names(
    s3, aliases, scheduled, django_capture_on_commit_callbacks
):
    from mediahub.library.operations import change_visibility, move_file, move_folder

    put(s3, "m/a.jpg")
    put(s3, "m/doc.pdf", b"%PDF-1.4")
    put(s3, "f/b.png", images.png())
    with django_capture_on_commit_callbacks(execute=True):
        move_file("public", "m/a.jpg", "m/renamed.jpg")
        move_file("public", "m/doc.pdf", "m/doc2.pdf")  # not an image: nothing to make
        move_folder("public", "f/", "g/")
        change_visibility("public", "m/renamed.jpg")

    assert scheduled == [
        ("public", ["m/renamed.jpg"]),
        ("public", ["g/b.png"]),
        ("private", ["m/renamed.jpg"]),
    ]


def test_a_failure_to_schedule_never_fails_the_upload(
    s3, aliases, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from mediahub.library.policy import save_upload

    def broken(storage, names):
        raise RuntimeError("no task backend")

    monkeypatch.setattr(thumbs, "schedule", broken)
    upload = SimpleUploadedFile("dog.jpg", images.jpeg(), content_type="image/jpeg")
    with django_capture_on_commit_callbacks(execute=True):
        assert save_upload("public", "", upload) == "dog.jpg"
    assert "Could not schedule the thumbnails" in caplog.text


def test_sync_push_with_thumbnails_has_the_pushed_images_thumbnailed(s3, aliases, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    (tmp_path / "album").mkdir()
    (tmp_path / "album" / "a.jpg").write_bytes(images.jpeg())
    (tmp_path / "album" / "notes.txt").write_bytes(b"text")
    out = StringIO()

    call_command("mediahub_sync", "push", str(tmp_path), "--thumbnails", stdout=out)

    assert "Thumbnails of the images pushed: job #" in out.getvalue()
    assert thumbs.thumbnail("album/a.jpg", alias="admin").ready
    assert len(thumbs_in(s3, s3.public_bucket)) == 2  # two aliases of the one image


def test_sync_thumbnails_is_for_push_only(s3, aliases, tmp_path):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="--thumbnails applies to push"):
        call_command("mediahub_sync", "pull", str(tmp_path), "--thumbnails")
