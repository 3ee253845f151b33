"""The admin media library: browse, upload, organise and publish S3 files.

Modules: :mod:`.permissions` (who may do what), :mod:`.operations` (plain
functions on storages), :mod:`.uploads` (direct browser-to-S3 multipart uploads),
:mod:`.forms`, :mod:`.views` (thin views) and :mod:`.admin` (the ModelAdmins
that put the views into the admin site).
"""
