"""Sample media for the demo, generated locally (no download): images and PDFs."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

COLOURS = [
    ("sunrise", (250, 128, 64), (255, 220, 120)),
    ("ocean", (20, 80, 160), (90, 200, 230)),
    ("forest", (20, 90, 40), (160, 210, 90)),
    ("dusk", (60, 30, 90), (230, 110, 150)),
    ("sand", (200, 170, 110), (250, 240, 210)),
    ("storm", (40, 40, 50), (140, 150, 170)),
]


def image_bytes(label: str, start: tuple, end: tuple, size=(640, 420), fmt="JPEG") -> bytes:
    """A gradient picture with a caption."""
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / max(height - 1, 1)
        colour = tuple(int(a + (b - a) * t) for a, b in zip(start, end, strict=True))
        draw.line([(0, y), (width, y)], fill=colour)
    draw.rectangle([20, height - 70, width - 20, height - 20], fill=(255, 255, 255))
    draw.text((36, height - 55), label, fill=(0, 0, 0))
    out = io.BytesIO()
    image.save(out, fmt, quality=85)
    return out.getvalue()


def pdf_bytes(title: str) -> bytes:
    """A minimal one-page PDF showing ``title``."""
    text = title.replace("\\", "").replace("(", "").replace(")", "")
    stream = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()
