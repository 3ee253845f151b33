"""The admin media library: browse, upload, organise and publish S3 files.

Modules: :mod:`.permissions` (who may do what), :mod:`.browsing` (folder pages,
details, links), :mod:`.policy` (what may be uploaded and how it is stored),
:mod:`.operations` (folders, move, delete, publish), :mod:`.uploads` (direct
browser-to-S3 multipart uploads), :mod:`.errors`, :mod:`.forms`, :mod:`.views`
(thin views) and :mod:`.admin` (the ModelAdmins that put the views into the
admin site).
"""
