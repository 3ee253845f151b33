from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from example_project.demo import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("media-links/", include("mediahub.urls")),
]

if getattr(settings, "FILER_INSTALLED", False):
    # filer's canonical URLs, and its private files and thumbnails (permission check,
    # then a redirect to a presigned URL: mediahub.contrib.filer.server).
    urlpatterns += [
        path("filer/", include("filer.urls")),
        path("", include("filer.server.urls")),
    ]

if settings.DEBUG and settings.STORAGES["default"]["BACKEND"].endswith("FileSystemStorage"):
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
