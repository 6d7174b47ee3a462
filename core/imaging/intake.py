"""Image intake: the one gate every user photo passes before it is stored or queued.

Untrusted bytes come in; a clean RGB image and a metadata-free PNG come out, or a ``UserError`` the user can
act on. The order matters: the cheap checks that need no decoder (size, magic bytes) run first, then the
header checks (pixel ceiling, animation, geometry), and only then are pixels decoded. The output is
re-encoded from pixels alone, so trailers (polyglots), EXIF, GPS, ICC profiles and text chunks never leave
this module.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
import zlib
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps

from core.config import MB, IntakeSettings
from core.errors import UserError

# Our format name -> the only Pillow plugin allowed to read it. Pillow is never asked to guess.
ALLOWED_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
# Speed over size: the PNG is an internal hand-off, not an archive. Run-length matching at level 1 is faster
# than Pillow's default strategy on photos, and smaller on smooth ones.
PNG_COMPRESS_LEVEL = 1
PNG_STRATEGY = zlib.Z_RLE
# A progressive JPEG made of thousands of tiny scans decodes in minutes from a few kilobytes. Real photos
# have about ten (plus one for an EXIF thumbnail).
MAX_JPEG_SCANS = 200

# What Pillow raises on malformed input varies by plugin and version; all of it means "damaged file".
_MALFORMED: tuple[type[BaseException], ...] = (
    OSError,  # includes UnidentifiedImageError and "image file is truncated"
    SyntaxError,  # "broken PNG file", bad chunk CRCs
    ValueError,
    struct.error,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    OverflowError,
)

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),  # also most camera RAW files (DNG, CR2, NEF, ARW)
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),
    (b"MM\x00+", "TIFF"),
    (b"%PDF-", "PDF"),
    (b"%!PS", "EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),  # DOS EPS binary header
    (b"8BPS", "PSD"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"\xff\x0a", "JPEG XL"),
    (b"qoif", "QOI"),
    (b"\x00\x00\x01\x00", "ICO"),
)
_BMP_HEADER_SIZES = {12, 40, 52, 56, 64, 108, 124}
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_HEIF_BRANDS = {b"mif1", b"msf1", b"mif2"}
_AVIF_BRANDS = {b"avif", b"avis"}

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
# ICC colour space of each mode _flatten can produce.
_ICC_SPACES = {"RGB": "RGB", "L": "GRAY", "CMYK": "CMYK"}


@dataclass(frozen=True)
class CleanImage:
    image: Image.Image  # RGB, upright, sRGB, no metadata
    data: bytes  # the same pixels as a PNG without any ancillary chunk
    source_format: str  # "jpeg" | "png" | "webp"
    width: int
    height: int


def check_declared_size(size: int | None, max_bytes: int) -> None:
    """Refuse a file by its announced size, before a byte of it is downloaded. ``None`` = not announced."""
    if size is not None and size > max_bytes:
        raise _too_large(size, max_bytes)


def read_capped(chunks: Iterable[bytes], max_bytes: int) -> bytes:
    """Join ``chunks``, stopping at the first chunk that crosses ``max_bytes``: an announced size can lie."""
    buffer = bytearray()
    for chunk in chunks:
        if len(buffer) + len(chunk) > max_bytes:
            raise _too_large(len(buffer) + len(chunk), max_bytes)
        buffer += chunk
    return bytes(buffer)


async def aread_capped(chunks: AsyncIterable[bytes], max_bytes: int) -> bytes:
    """``read_capped`` for an async byte stream (e.g. ``httpx.Response.aiter_bytes()``)."""
    buffer = bytearray()
    async for chunk in chunks:
        if len(buffer) + len(chunk) > max_bytes:
            raise _too_large(len(buffer) + len(chunk), max_bytes)
        buffer += chunk
    return bytes(buffer)


def intake_image(data: bytes, limits: IntakeSettings) -> CleanImage:
    """Validate and normalise an uploaded photo. Raises ``UserError`` (``intake.*``) for anything unusable."""
    # 1. Checks on the raw bytes.
    if not data:
        raise UserError("intake.empty")
    check_declared_size(len(data), limits.max_bytes)
    source_format = sniff_format(data)
    if source_format == "jpeg" and data.count(b"\xff\xda") > MAX_JPEG_SCANS:
        raise UserError("intake.corrupt")

    # 2. Header checks, decode, normalise. The warning filter is scoped to this call (catch_warnings swaps
    # the process-wide list, so threads can race on it; safety does not hang on it: _decode enforces the
    # same ceiling itself).
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            decoded = _decode(data, source_format, limits)
            image = _to_srgb(decoded)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            # Pillow's own ceiling tripped inside Image.open, before we could read the size.
            pixels = _declared_pixels(data, source_format)
            raise _too_many_pixels(pixels, _pixel_ceiling(limits)) from None
        except _MALFORMED as exc:
            raise UserError("intake.corrupt") from exc

    # 3. Re-encode from pixels only.
    if image is decoded:
        image = image.copy()  # a plain Image: no file object, no cached EXIF
    image.info.clear()
    return CleanImage(image, encode_png(image), source_format, image.width, image.height)


def encode_png(image: Image.Image) -> bytes:
    """Pixels only, fast: the encoding of every image the service stores (inputs and results)."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=PNG_COMPRESS_LEVEL, compress_type=PNG_STRATEGY)
    return buffer.getvalue()


def sniff_format(data: bytes) -> str:
    """``"jpeg"``, ``"png"`` or ``"webp"`` from the magic bytes; a ``UserError`` naming anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    known = _other_image_format(data)
    if known is not None:
        raise UserError("intake.unsupported_format", format=known)
    raise UserError("intake.not_image")


def _other_image_format(data: bytes) -> str | None:
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    if data[:2] == b"BM" and len(data) >= 18 and struct.unpack_from("<I", data, 14)[0] in _BMP_HEADER_SIZES:
        return "BMP"
    if data[4:8] == b"ftyp":
        # ISO base media: the major brand plus the compatible brands tell HEIC/AVIF from video.
        box_size = min(struct.unpack_from(">I", data, 0)[0], 256)
        brands = {data[8:12]} | {data[i : i + 4] for i in range(16, box_size - 3, 4)}
        if brands & _AVIF_BRANDS:
            return "AVIF"
        if brands & _HEIC_BRANDS:
            return "HEIC"
        if brands & _HEIF_BRANDS:
            return "HEIF"
        return None
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<?xml", b"<svg", b"<!doctype svg")) and b"<svg" in head:
        return "SVG"
    return None


def _decode(data: bytes, source_format: str, limits: IntakeSettings) -> Image.Image:
    image = Image.open(io.BytesIO(data), formats=[ALLOWED_FORMATS[source_format]])
    width, height = image.size
    if width * height > _pixel_ceiling(limits):
        raise _too_many_pixels(width * height, _pixel_ceiling(limits))
    # A JPEG with extra pictures (MPO: phones' HDR gain maps, depth maps, 3D cameras) is a still photo whose
    # first picture is the photo; only PNG (APNG) and WebP can be animations.
    animated = getattr(image, "n_frames", 1) > 1 or getattr(image, "is_animated", False)
    if animated and source_format != "jpeg":
        raise UserError("intake.animated")
    if min(width, height) < limits.min_side:
        raise UserError("intake.too_small", width=width, height=height, min_side=limits.min_side)
    if max(width, height) / min(width, height) > limits.max_aspect_ratio:
        raise UserError("intake.bad_aspect", width=width, height=height)
    # With ImageFile.LOAD_TRUNCATED_IMAGES left False (never set it), a short file raises here instead of
    # being padded with grey.
    image.load()
    return image


def _to_srgb(decoded: Image.Image) -> Image.Image:
    """Upright, flattened on white, 8 bits, sRGB."""
    icc_profile = decoded.info.get("icc_profile")
    try:
        ImageOps.exif_transpose(decoded, in_place=True)
    except _MALFORMED:
        pass  # unreadable EXIF: the pixels are fine, only the orientation hint is lost
    flat = _flatten(decoded)
    if icc_profile:
        return _apply_icc_profile(flat, icc_profile)
    return flat if flat.mode == "RGB" else flat.convert("RGB")


def _flatten(image: Image.Image) -> Image.Image:
    """Any mode to RGB, L or CMYK (the modes an ICC transform takes), with alpha composited on white."""
    if image.mode.startswith("I"):
        # 16-bit greyscale PNG: scale 0..65535 to 0..255; convert("L") would clip everything above 255.
        return image.convert("I").point(lambda value: value * (255 / 65535) + 0.5).convert("L")
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    if has_alpha:
        grey = image.mode in ("1", "L", "LA", "La")
        with_alpha = image.convert("LA" if grey else "RGBA")
        background = Image.new("L" if grey else "RGB", image.size, "white")
        background.paste(with_alpha.convert(background.mode), mask=with_alpha.getchannel("A"))
        return background
    if image.mode in _ICC_SPACES:
        return image
    return image.convert("L" if image.mode == "1" else "RGB")


def _apply_icc_profile(image: Image.Image, icc_profile: bytes) -> Image.Image:
    """Convert to sRGB through the embedded profile. A profile that lcms cannot read or use, or one for
    another pixel layout, is ignored: the pixels are then read as sRGB, as browsers read untagged images."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        if source.profile.xcolor_space.strip() != _ICC_SPACES[image.mode]:
            return image.convert("RGB")
        if image.mode == "RGB" and ImageCms.getProfileDescription(source).startswith("sRGB"):
            return image  # already sRGB (most Android photos): a transform would cost ~10 ms per megapixel
        transform = ImageCms.buildTransform(
            source, _SRGB, image.mode, "RGB", renderingIntent=ImageCms.Intent.PERCEPTUAL
        )
        converted = ImageCms.applyTransform(image, transform)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image.convert("RGB")
    assert converted is not None  # only None when transforming in place
    return converted


def _pixel_ceiling(limits: IntakeSettings) -> int:
    # Pillow's own bomb threshold also applies (as an error here); report whichever is lower.
    pillow = Image.MAX_IMAGE_PIXELS
    return min(limits.max_pixels, pillow) if pillow else limits.max_pixels


def _declared_pixels(data: bytes, source_format: str) -> int | None:
    """The header's pixel count, read by the format's own plugin without Image.open's bomb check (the WebP
    plugin checks by itself: its header is read here)."""
    if source_format == "webp":
        return _webp_pixels(data)
    factory = Image.OPEN[ALLOWED_FORMATS[source_format]][0]
    try:
        width, height = factory(io.BytesIO(data), "").size
    except _MALFORMED:
        return None
    return width * height


def _webp_pixels(data: bytes) -> int | None:
    """The canvas a WebP declares: in its extended header (VP8X), else in its lossy (VP8) or lossless
    (VP8L) picture header."""
    chunk, body = data[12:16], data[20:]
    if chunk == b"VP8X" and len(body) >= 10:
        return (int.from_bytes(body[4:7], "little") + 1) * (int.from_bytes(body[7:10], "little") + 1)
    if chunk == b"VP8 " and len(body) >= 10:
        width, height = struct.unpack_from("<HH", body, 6)
        return (width & 0x3FFF) * (height & 0x3FFF)
    if chunk == b"VP8L" and len(body) >= 5:
        bits = int.from_bytes(body[1:5], "little")
        return ((bits & 0x3FFF) + 1) * (((bits >> 14) & 0x3FFF) + 1)
    return None


def _too_large(size: int, max_bytes: int) -> UserError:
    return UserError(
        "intake.too_large", size_mb=human_number(size / MB, up=True), limit_mb=human_number(max_bytes / MB)
    )


def _too_many_pixels(pixels: int | None, ceiling: int) -> UserError:
    # Unknown size (header unreadable the second time): the ceiling is at least a true lower bound.
    megapixels = (pixels if pixels is not None else ceiling + 1) / 1e6
    return UserError(
        "intake.too_many_pixels",
        megapixels=human_number(megapixels, up=True),
        limit_megapixels=human_number(ceiling / 1e6),
    )


def human_number(value: float, *, up: bool = False) -> int | float:
    """One decimal, ``20`` rather than ``20.0``. Rounded up for measured sizes, so that a file just over a
    20 MB limit never reads "20 MB; the limit is 20 MB"."""
    # round(..., 9) first: 1.1 * 10 is 11.000000000000002, which must not ceil to 12.
    rounded = math.ceil(round(value * 10, 9)) / 10 if up else round(value, 1)
    return int(rounded) if rounded == int(rounded) else rounded
