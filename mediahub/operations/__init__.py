"""The logic behind mediahub's operations commands, as plain functions.

One module per command (``audit``, ``cors``, ``sync``, ``doctor``), each returning a
report object that the command prints; shared pieces in ``objects`` (listing and
S3 access through the storages' own clients), ``bucket`` (bucket-level settings:
Block Public Access, policy, ACL mode, anonymous probes), ``transfer`` (chunked
download and upload, ETag comparison) and ``progress`` (the progress bar).
"""
