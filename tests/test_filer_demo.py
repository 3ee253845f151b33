"""``make demo``'s django-filer samples land in the right buckets."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_demo_load_filer_puts_public_and_private_files_in_their_buckets(s3):
    from filer.models import File, Folder

    User.objects.create_superuser("admin", "admin@example.com", "admin")

    call_command("demo_load_filer", stdout=io.StringIO())
    again = io.StringIO()
    call_command("demo_load_filer", stdout=again)

    assert "already loaded" in again.getvalue()
    assert Folder.objects.filter(parent=None).count() == 3
    public = File.objects.filter(is_public=True)
    private = File.objects.filter(is_public=False)
    assert public.count() == 3 and private.count() == 4
    assert sorted(f.file.name for f in public) == sorted(s3.keys(s3.public_bucket))
    assert sorted(f.file.storage.key(f.file.name) for f in private) == sorted(
        s3.keys(s3.private_bucket)
    )
