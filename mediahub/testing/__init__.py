"""Helpers for tests and the demo: an embedded S3 server and the bucket layout.

Needs the ``dev`` extra (moto's server). Nothing here is used by the app at run time.
"""
