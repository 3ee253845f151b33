"""Recompute the SigV4 signature of a presigned URL with botocore (tests)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit


def recomputed_signature(
    url: str, method: str, *, access_key: str, secret_key: str, region: str
) -> str:
    """The signature botocore computes for ``url``'s own path and parameters.

    Equal to the URL's ``X-Amz-Signature`` only when nothing that is signed (key,
    expiry, date, response overrides, method) was changed after signing.
    """
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    unsigned = url.replace(f"&X-Amz-Signature={query['X-Amz-Signature']}", "")
    request = AWSRequest(method=method, url=unsigned, headers={"host": parts.netloc})
    request.context["timestamp"] = query["X-Amz-Date"]
    auth = S3SigV4QueryAuth(
        Credentials(access_key, secret_key), "s3", region, expires=int(query["X-Amz-Expires"])
    )
    canonical = auth.canonical_request(request)
    return auth.signature(auth.string_to_sign(request, canonical), request)
