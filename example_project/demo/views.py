from __future__ import annotations

from django.shortcuts import render

from mediahub.storage import get_storage


def home(request):
    """Front page: public images, private files (signed), and a CORS fetch."""
    public, private = get_storage("public"), get_storage("private")
    images = [f for f in public.list_folder("images/").files if f.valid]
    private_files = [
        f
        for folder in ("photos/", "documents/")
        for f in private.list_folder(folder).files
        if f.valid
    ]
    cors_url = public.url("data/hello.json")
    return render(
        request,
        "demo/home.html",
        {
            "images": [(f, public.url(f.path)) for f in images],
            "private_files": private_files,
            "cors_url": cors_url,
        },
    )
