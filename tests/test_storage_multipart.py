"""Large saves: multipart uploads with parts in parallel, bounded, aborted on any failure."""

from __future__ import annotations

import os
import threading
import time

import pytest
from botocore.exceptions import ClientError
from django.core.files.base import ContentFile, File

from mediahub import dsn
from mediahub.storage import multipart
from mediahub.storage.s3 import MULTIPART_PART_SIZE, PrivateS3Storage
from tests.responses import canned_response

PART = MULTIPART_PART_SIZE


class PartWatch:
    """Counts UploadPart requests in flight (before-send to after-call)."""

    def __init__(self, *, delay: float = 0.0, fail_part: int | None = None) -> None:
        self.delay = delay
        self.fail_part = fail_part
        self.in_flight = 0
        self.most = 0
        self.sent: list[int] = []
        self.lock = threading.Lock()

    def before_send(self, request, **kwargs):
        number = int(request.url.split("partNumber=")[1].split("&")[0])
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.sent.append(number)
        time.sleep(self.delay)  # keep the part "on the wire" long enough to overlap
        if number == self.fail_part:
            with self.lock:
                self.in_flight -= 1
            body = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
            return canned_response(request.url, 500, body)
        return None

    def after_call(self, **kwargs):
        with self.lock:
            self.in_flight -= 1


def storage_for(s3, watch: PartWatch, **options) -> PrivateS3Storage:
    entry = dsn.parse(s3.layout.private_dsn, visibility="private")
    storage = PrivateS3Storage(**{**entry["OPTIONS"], **options})
    events = storage.connection.meta.client.meta.events
    events.register("before-send.s3.UploadPart", watch.before_send)
    events.register("after-call.s3.UploadPart", watch.after_call)
    return storage


def no_uploads_left(s3) -> bool:
    answer = s3.client().list_multipart_uploads(Bucket=s3.private_bucket)
    return answer.get("Uploads", []) == []


@pytest.fixture(autouse=True)
def no_retry_sleep(monkeypatch):
    """botocore retries the injected 500s with backoff; the tests need not wait."""
    import time as real_time
    from types import SimpleNamespace

    import botocore.endpoint

    fake = SimpleNamespace(
        **{k: getattr(real_time, k) for k in dir(real_time) if not k.startswith("__")}
    )
    fake.sleep = lambda seconds: None
    monkeypatch.setattr(botocore.endpoint, "time", fake)


def test_parallel_upload_is_byte_identical_with_bounded_parts_in_flight(s3, count_requests):
    watch = PartWatch(delay=0.05)
    storage = storage_for(s3, watch, parallel_parts=3)
    payload = os.urandom(5 * PART + 12345)  # six parts, the last one short
    name = storage.save("big/random.bin", ContentFile(payload))
    assert name == "big/random.bin"
    assert count_requests["UploadPart"] == 6
    assert count_requests["CompleteMultipartUpload"] == 1
    assert 2 <= watch.most <= 3  # parallel, and never more than parallel_parts
    body = s3.client().get_object(Bucket=s3.private_bucket, Key=name)["Body"].read()
    assert body == payload
    assert no_uploads_left(s3)


def test_upload_from_a_real_file_in_parallel(s3, tmp_path):
    watch = PartWatch(delay=0.02)
    storage = storage_for(s3, watch)  # parallel_parts: transfer_config's max_concurrency
    assert storage.part_concurrency == storage.transfer_config.max_concurrency
    path = tmp_path / "movie.bin"
    path.write_bytes(os.urandom(3 * PART + 1))
    with open(path, "rb") as handle:
        name = storage.save("movie.bin", File(handle, name="movie.bin"))
    assert watch.most >= 2
    assert storage.open(name).read() == path.read_bytes()


def test_one_part_at_a_time_when_asked(s3):
    watch = PartWatch(delay=0.02)
    storage = storage_for(s3, watch, parallel_parts=1)
    storage.save("seq.bin", ContentFile(b"s" * (2 * PART + 1)))
    assert watch.most == 1 and watch.sent == [1, 2, 3]


def test_failure_mid_upload_aborts_and_leaves_no_object_and_no_upload(s3, count_requests):
    watch = PartWatch(delay=0.02, fail_part=3)
    storage = storage_for(s3, watch, parallel_parts=2)
    with pytest.raises(ClientError) as caught:
        storage.save("big/broken.bin", ContentFile(os.urandom(8 * PART)))
    assert caught.value.operation_name == "UploadPart"
    assert count_requests["AbortMultipartUpload"] == 1
    assert count_requests["CompleteMultipartUpload"] == 0
    assert s3.keys(s3.private_bucket) == []
    assert no_uploads_left(s3)
    # Parts not yet started when the failure came were never sent.
    assert max(watch.sent) < 8


def test_taken_name_during_a_parallel_upload_picks_another_name(s3):
    watch = PartWatch()
    storage = storage_for(s3, watch, parallel_parts=4)
    s3.client().put_object(Bucket=s3.private_bucket, Key="big/taken.bin", Body=b"first")
    name = storage._save("big/taken.bin", ContentFile(b"t" * (2 * PART + 5)))
    assert name != "big/taken.bin"
    assert storage.open("big/taken.bin").read() == b"first"
    assert no_uploads_left(s3)


def test_part_size_grows_for_files_over_ten_thousand_parts():
    assert multipart.part_size_for(None, 8 * 1024**2) == 8 * 1024**2
    assert multipart.part_size_for(10, 1024) == multipart.MIN_PART_SIZE
    huge = 200 * 1024**3
    size = multipart.part_size_for(huge, 8 * 1024**2)
    assert size % 1024**2 == 0 and huge / size <= multipart.MAX_PARTS


def test_failure_mid_upload_of_a_real_file_aborts_too(s3, tmp_path):
    watch = PartWatch(delay=0.01, fail_part=2)
    storage = storage_for(s3, watch, parallel_parts=2)
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(4 * PART))
    with open(path, "rb") as handle, pytest.raises(ClientError):
        storage.save("big.bin", File(handle, name="big.bin"))
    assert s3.keys(s3.private_bucket) == []
    assert no_uploads_left(s3)


def test_file_window_reads_its_range_only(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(256)) * 4)
    with open(path, "rb") as handle:
        windows = dict(multipart.file_windows(handle.fileno(), 1024, 300))
        assert sorted(windows) == [1, 2, 3, 4] and len(windows[4]) == 124
        window = windows[2]
        assert window.read(10) == (bytes(range(256)) * 4)[300:310]
        window.seek(0)
        assert window.read() == (bytes(range(256)) * 4)[300:600]
        assert window.read() == b"" and window.tell() == 300
        window.seek(-5, os.SEEK_END)
        assert len(window.read(100)) == 5
    assert multipart.real_file(ContentFile(b"x")) is None


def test_parts_carry_the_uploads_checksum_as_s3transfer_does(s3):
    """Created with CRC32 (as boto3's upload_file): the server combines the parts' checksums
    instead of computing a full-object checksum at completion (moto: seconds per GiB)."""
    storage = storage_for(s3, PartWatch(), parallel_parts=2)
    payload = os.urandom(2 * PART + 7)
    name = storage.save("sum.bin", ContentFile(payload))
    head = s3.client().head_object(Bucket=s3.private_bucket, Key=name, ChecksumMode="ENABLED")
    if s3.endpoint.kind == "moto":
        assert "ChecksumCRC32" in head and "ChecksumCRC64NVME" not in head
    assert storage.open(name).read() == payload
