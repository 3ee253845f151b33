"""Load a few django-filer folders and files, public and private, for the demo."""

from __future__ import annotations

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError

from example_project.demo.samples import COLOURS, image_bytes, pdf_bytes

#: (folder path, file name, public?, kind)
SAMPLES = [
    (("Marketing",), "sunrise banner.jpg", True, "image"),
    (("Marketing",), "ocean poster.jpg", True, "image"),
    (("Marketing", "Brochures"), "Product brochure.pdf", True, "pdf"),
    (("HR",), "Payroll November.pdf", False, "pdf"),
    (("HR",), "Employment contract.pdf", False, "pdf"),
    (("HR", "Badges"), "forest badge photo.jpg", False, "image"),
    (("Board",), "Minutes 2026-10.pdf", False, "pdf"),
]


class Command(BaseCommand):
    help = "Load django-filer sample folders and files (public and private) into the demo."

    def add_arguments(self, parser):
        parser.add_argument("--owner", default="admin", help="Owner of the files (username).")

    def handle(self, *args, owner: str, verbosity: int = 1, **options):
        if not apps.is_installed("filer"):
            raise CommandError("django-filer is not installed (pip install mediahub[filer]).")
        from filer.models import File, Folder, Image

        if Folder.objects.filter(name="Marketing", parent=None).exists():
            self.stdout.write("filer samples already loaded.")
            return
        user = get_user_model().objects.filter(username=owner).first()
        folders: dict[tuple[str, ...], Folder] = {}
        for path, name, public, kind in SAMPLES:
            folder = None
            for depth in range(1, len(path) + 1):
                key = path[:depth]
                if key not in folders:
                    folders[key] = Folder.objects.create(name=key[-1], parent=folder, owner=user)
                folder = folders[key]
            if kind == "image":
                colour = next(c for c in COLOURS if name.startswith(c[0]))
                model, data = Image, image_bytes(name.rsplit(".", 1)[0], colour[1], colour[2])
            else:
                model, data = File, pdf_bytes(name.rsplit(".", 1)[0])
            model.objects.create(
                file=ContentFile(data, name=name),
                original_filename=name,
                is_public=public,
                folder=folder,
                owner=user,
            )
            if verbosity >= 2:
                self.stdout.write(
                    f"  {'/'.join(path)}/{name} ({'public' if public else 'private'})"
                )
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {len(SAMPLES)} filer files in {len(folders)} folders "
                f"({sum(not s[2] for s in SAMPLES)} private)."
            )
        )
