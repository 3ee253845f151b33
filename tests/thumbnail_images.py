"""Small image files for the thumbnail tests: good, hostile and broken."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def jpeg(width: int = 120, height: int = 80, color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def png(width: int = 120, height: int = 80, color=(0, 0, 255, 128)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 10000, height: int = 10000) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` pixels (~90 bytes)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    data = zlib.compress(b"\0" * 64, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


def truncated_jpeg() -> bytes:
    # Noise does not compress: the cut falls well inside the scan data.
    import random

    rng = random.Random(5)
    image = Image.frombytes("RGB", (200, 200), bytes(rng.randrange(256) for _ in range(120000)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    data = buffer.getvalue()
    return data[: len(data) // 2]


CORRUPT = b"\xff\xd8\xff\xe0 this is not really a JPEG " * 10
NOT_AN_IMAGE = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'


def ppm() -> bytes:
    """A valid image in a format outside the default allow-list."""
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), "green").save(buffer, "PPM")
    return buffer.getvalue()


def color_of(data: bytes) -> tuple[int, ...]:
    """The colour of the centre pixel of an encoded image."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    return image.getpixel((image.width // 2, image.height // 2))
