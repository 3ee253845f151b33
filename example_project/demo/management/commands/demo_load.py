"""Load the demo's sample files into the public and private storages."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand

from example_project.demo.models import Document
from example_project.demo.samples import COLOURS, image_bytes, pdf_bytes
from mediahub.storage import get_storage


class Command(BaseCommand):
    help = "Load sample images, PDFs and one large folder into the demo's storages."

    def add_arguments(self, parser):
        parser.add_argument(
            "--bulk", type=int, default=5000, help="Objects in the large folder (default 5000)."
        )
        parser.add_argument("--jobs", type=int, default=16, help="Parallel uploads.")

    def handle(self, *args, bulk: int, jobs: int, **options):
        public, private = get_storage("public"), get_storage("private")
        marker = "bulk/.loaded"
        if public.exists(marker):
            self.stdout.write("Sample data already loaded.")
            return
        for label, start, end in COLOURS:
            public.save(f"images/{label}.jpg", ContentFile(image_bytes(label, start, end)))
        logo = public.save(
            "images/logo.png",
            ContentFile(image_bytes("logo", (0, 0, 0), (90, 90, 90), (256, 256), "PNG")),
        )
        hello = public.save(
            "data/hello.json", ContentFile(b'{"message": "Hello from the public bucket"}')
        )
        photos = [
            private.save(
                f"photos/{label}-private.jpg",
                ContentFile(image_bytes(f"private {label}", start, end)),
            )
            for label, start, end in COLOURS[:3]
        ]
        documents = [
            private.save(
                f"documents/{title.lower().replace(' ', '-')}.pdf", ContentFile(pdf_bytes(title))
            )
            for title in ("Invoice 2026-001", "Contract", "Payroll October")
        ]
        # One row of the demo model, its four mediahub fields pointing at the samples.
        Document.objects.get_or_create(
            title="Sample document",
            defaults={
                "attachment": hello,
                "contract": documents[1],
                "cover": logo,
                "scan": photos[0],
            },
        )

        def put(number: int) -> None:
            public.save(f"bulk/file-{number:05d}.txt", ContentFile(f"object {number}\n".encode()))

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(put, range(bulk)))
        public.save(marker, ContentFile(b"1"))
        self.stdout.write(self.style.SUCCESS(f"Loaded sample files ({bulk} objects in bulk/)."))
