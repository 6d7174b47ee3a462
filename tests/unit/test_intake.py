"""Image intake against a corpus of hostile and awkward files, all generated here, and a seeded fuzz."""

from __future__ import annotations

import asyncio
import io
import itertools
import random
import struct
import time
import warnings
import zipfile
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageCms, ImageFile, PngImagePlugin

from core.config import MB, IntakeSettings
from core.errors import UserError
from core.imaging.intake import (
    MAX_JPEG_SCANS,
    CleanImage,
    aread_capped,
    check_declared_size,
    intake_image,
    read_capped,
)

LIMITS = IntakeSettings()  # 20 MB, 40 MP, 64 px minimum side, 4:1 aspect
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RED, GREY, WHITE = (255, 0, 0), (128, 128, 128), (255, 255, 255)


# --- corpus builders ---------------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def photo(size: tuple[int, int] = (96, 80), seed: int = 0) -> Image.Image:
    """Smooth gradients with a little noise: compresses like a photo, decodes fast."""
    width, height = size
    rng = random.Random(seed)
    pixels = bytes(
        channel
        for y in range(height)
        for x in range(width)
        for channel in ((x * 255) // width, (y * 255) // height, (128 + rng.randrange(-20, 21)) % 256)
    )
    return Image.frombytes("RGB", size, pixels)


def marked(size: tuple[int, int] = (120, 80)) -> Image.Image:
    """Grey with a red block in the top-left corner, to see where the corner ends up."""
    image = Image.new("RGB", size, GREY)
    image.paste(RED, (0, 0, 24, 24))
    return image


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def raw_png(width: int, height: int, *, bit_depth: int = 8, colour_type: int = 2, rows: bytes = b"") -> bytes:
    """A PNG written by hand: any declared size, with whatever (possibly far too little) pixel data."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(rows or bytes(64)))
        + png_chunk(b"IEND", b"")
    )


def png_chunk_types(data: bytes) -> list[bytes]:
    assert data.startswith(PNG_SIGNATURE)
    kinds, offset = [], len(PNG_SIGNATURE)
    while offset < len(data):
        (length,) = struct.unpack_from(">I", data, offset)
        kinds.append(data[offset + 4 : offset + 8])
        offset += 12 + length
    return kinds


def linear_rgb_icc() -> bytes:
    """An ICC v2 display profile with sRGB primaries and a linear (gamma 1.0) curve: mid-grey 128 in it is
    about 188 in sRGB, so an ignored profile is easy to see."""

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \0\0\0\0" + struct.pack(">3i", *(round(v * 65536) for v in (x, y, z)))

    text = b"Linear sRGB primaries"
    tags = {
        b"desc": b"desc\0\0\0\0" + struct.pack(">I", len(text) + 1) + text + b"\0" + bytes(8 + 2 + 1 + 67),
        b"cprt": b"text\0\0\0\0No copyright\0",
        b"wtpt": xyz(0.9642, 1.0, 0.8249),
        b"rXYZ": xyz(0.4361, 0.2225, 0.0139),
        b"gXYZ": xyz(0.3851, 0.7169, 0.0971),
        b"bXYZ": xyz(0.1431, 0.0606, 0.7141),
        b"rTRC": b"curv\0\0\0\0" + struct.pack(">IH", 1, 256) + b"\0\0",
    }
    tags[b"gTRC"] = tags[b"bTRC"] = tags[b"rTRC"]
    offset, table, body = 128 + 4 + 12 * len(tags), b"", b""
    for signature, payload in tags.items():
        payload += b"\0" * (-len(payload) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(payload))
        body += payload
    size = offset + len(body)
    header = struct.pack(">I4sI4s4s4s12s4s", size, b"", 0x02100000, b"mntr", b"RGB ", b"XYZ ", b"", b"acsp")
    header += bytes(28) + struct.pack(">3i", *(round(v * 65536) for v in (0.9642, 1.0, 0.8249)))
    header += bytes(128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + body


def png_text(secret: str) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", secret)
    info.add_text("Location", secret, zip=True)
    return info


def frames(fmt: str) -> bytes:
    red, blue = Image.new("RGB", (96, 96), RED), Image.new("RGB", (96, 96), (0, 0, 255))
    return encode(red, fmt, save_all=True, append_images=[blue], duration=100, loop=0)


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("secret.txt", "payload riding behind the picture")
    return buffer.getvalue()


def jpeg_declaring(width: int, height: int) -> bytes:
    data = bytearray(encode(photo(), "JPEG"))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def webp_declaring(width: int, height: int) -> bytes:
    """38 bytes: a WebP whose extended header (VP8X) declares the canvas, and an empty picture."""
    canvas = bytes([0x10, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(canvas)) + canvas + b"VP8L" + struct.pack("<I", 0)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def scan_bomb() -> bytes:
    """A progressive JPEG whose last scan is repeated far past anything a camera writes."""
    data = encode(photo(), "JPEG", progressive=True)
    last_scan = data[data.rindex(b"\xff\xda") : -2]
    return data[:-2] + last_scan * (MAX_JPEG_SCANS + 50) + b"\xff\xd9"


def rejects(data: bytes, key: str, limits: IntakeSettings = LIMITS) -> UserError:
    with pytest.raises(UserError) as caught:
        intake_image(data, limits)
    error = caught.value
    assert error.key == key, error
    english, korean = error.render("en"), error.render("ko")  # every parameter the templates need is there
    assert english and korean and english != korean
    return error


def pixel(clean: CleanImage, xy: tuple[int, int]) -> tuple[int, ...]:
    value = clean.image.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


# --- formats -----------------------------------------------------------------------------------------

SMALL = photo((96, 96))
UNSUPPORTED: dict[str, Callable[[], bytes]] = {
    "GIF": lambda: encode(SMALL, "GIF"),
    "BMP": lambda: encode(SMALL, "BMP"),
    "TIFF": lambda: encode(SMALL, "TIFF"),
    "ICO": lambda: encode(SMALL, "ICO"),
    "JPEG 2000": lambda: encode(SMALL, "JPEG2000"),
    "AVIF": lambda: encode(SMALL, "AVIF"),
    "HEIC": lambda: struct.pack(">I", 24) + b"ftypheic\0\0\0\0mif1heic" + bytes(64),
    "EPS": lambda: encode(SMALL, "EPS"),
    "PDF": lambda: encode(SMALL, "PDF"),
    "SVG": lambda: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>',
    "PSD": lambda: b"8BPS\0\1" + bytes(64),
}
NOT_IMAGES: dict[str, Callable[[], bytes]] = {
    "text": lambda: b"hello, this is not a photo\n",
    "html": lambda: b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
    "xml": lambda: b'<?xml version="1.0"?><note>not a picture</note>',
    "zip": zip_archive,
    "wav": lambda: b"RIFF\x24\0\0\0WAVEfmt " + bytes(32),
    "mp4": lambda: struct.pack(">I", 24) + b"ftypisom\0\0\2\0isomiso2" + bytes(64),
    "binary": lambda: bytes(range(1, 200)),
}


@pytest.mark.parametrize("name", UNSUPPORTED)
def test_known_formats_outside_the_allowlist_are_named(name: str) -> None:
    error = rejects(UNSUPPORTED[name](), "intake.unsupported_format")
    assert error.params == {"format": name}
    assert name in error.render("en") and name in error.render("ko")


@pytest.mark.parametrize("name", NOT_IMAGES)
def test_files_that_are_not_pictures_are_refused(name: str) -> None:
    rejects(NOT_IMAGES[name](), "intake.not_image")


def test_an_empty_file_is_refused() -> None:
    rejects(b"", "intake.empty")


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animations_are_refused(fmt: str) -> None:
    data = frames(fmt)
    if fmt == "GIF":  # not even read: GIF is outside the allowlist
        assert rejects(data, "intake.unsupported_format").params == {"format": "GIF"}
    else:
        assert Image.open(io.BytesIO(data)).n_frames == 2
        rejects(data, "intake.animated")


def test_an_mpo_jpeg_is_the_photo_in_its_first_picture() -> None:
    first, second = Image.new("RGB", (96, 80), RED), Image.new("RGB", (96, 80), (0, 0, 255))
    data = encode(first, "MPO", save_all=True, append_images=[second])
    clean = intake_image(data, LIMITS)
    assert (clean.source_format, clean.image.size) == ("jpeg", (96, 80))
    assert near(pixel(clean, (48, 40)), RED)


# --- damaged files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_files_are_corrupt_not_padded(fmt: str, keep: float) -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    data = encode(photo((200, 150), seed=1), fmt)
    rejects(data[: int(len(data) * keep)], "intake.corrupt")


def test_a_png_with_a_bad_checksum_is_corrupt() -> None:
    data = bytearray(encode(photo(), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF
    rejects(bytes(data), "intake.corrupt")


def test_a_jpeg_scan_bomb_is_refused_before_decoding() -> None:
    data = scan_bomb()
    started = time.perf_counter()
    rejects(data, "intake.corrupt")
    assert time.perf_counter() - started < 1.0
    assert intake_image(encode(photo(), "JPEG", progressive=True), LIMITS).source_format == "jpeg"


# --- sizes and shapes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "megapixels"),
    [
        (raw_png(30_000, 30_000), 900),  # past Pillow's error threshold: DecompressionBombError in open()
        (raw_png(10_000, 10_000), 100),  # between Pillow's warning and error thresholds: the warning
        (raw_png(8_000, 6_000), 48),  # under Pillow's thresholds, over ours
        (jpeg_declaring(60_000, 60_000), 3600),
        (webp_declaring(16_383, 16_383), 268.5),  # the WebP plugin itself refuses it, past Pillow's ceiling
    ],
    ids=["png-900MP", "png-100MP", "png-48MP", "jpeg-3600MP", "webp-268MP"],
)
def test_decompression_bombs_are_refused_from_the_header(data: bytes, megapixels: int) -> None:
    filters_before, ceiling_before = list(warnings.filters), Image.MAX_IMAGE_PIXELS
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        error = rejects(data, "intake.too_many_pixels")
    assert time.perf_counter() - started < 1.0
    assert not [w for w in escaped if issubclass(w.category, Image.DecompressionBombWarning)]
    assert error.params == {"megapixels": megapixels, "limit_megapixels": 40}
    assert (warnings.filters, Image.MAX_IMAGE_PIXELS) == (filters_before, ceiling_before)  # nothing global


def test_pillows_ceiling_is_reported_when_it_is_below_ours() -> None:
    error = rejects(raw_png(10_000, 10_000), "intake.too_many_pixels", IntakeSettings(max_pixels=200_000_000))
    assert error.params["limit_megapixels"] == round(Image.MAX_IMAGE_PIXELS / 1e6, 1)


@pytest.mark.parametrize(
    ("size", "key"),
    [((1, 1), "intake.too_small"), ((63, 200), "intake.too_small"), ((400, 64), "intake.bad_aspect")],
)
def test_tiny_and_extreme_shapes_are_refused(size: tuple[int, int], key: str) -> None:
    error = rejects(encode(Image.new("RGB", size, GREY), "PNG"), key)
    assert (error.params["width"], error.params["height"]) == size


@pytest.mark.parametrize("size", [(64, 64), (256, 64), (64, 256)])
def test_shapes_on_the_limits_are_accepted(size: tuple[int, int]) -> None:
    assert intake_image(encode(Image.new("RGB", size, GREY), "PNG"), LIMITS).image.size == size


def test_a_file_over_the_byte_limit_is_refused_with_readable_sizes() -> None:
    data = encode(photo(), "PNG")
    error = rejects(data, "intake.too_large", IntakeSettings(max_bytes=len(data) - 1))
    assert error.params["size_mb"] == 0.1 and error.params["limit_mb"] == round((len(data) - 1) / MB, 1)


# --- orientation, colour, metadata -------------------------------------------------------------------


@pytest.mark.parametrize(("orientation", "corner"), [(6, (80 - 12, 12)), (8, (12, 120 - 12))])
def test_exif_rotation_is_applied(orientation: int, corner: tuple[int, int]) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    clean = intake_image(encode(marked((120, 80)), "JPEG", exif=exif, quality=95), LIMITS)
    assert (clean.width, clean.height) == clean.image.size == (80, 120)
    assert near(pixel(clean, corner), RED, 40)
    for other in [(12, 12), (80 - 12, 120 - 12)]:
        assert near(pixel(clean, other), GREY)


def test_a_cmyk_jpeg_becomes_rgb() -> None:
    clean = intake_image(encode(Image.new("CMYK", (96, 96), (0, 255, 255, 0)), "JPEG"), LIMITS)
    assert clean.image.mode == "RGB" and near(pixel(clean, (48, 48)), RED)


def test_16_bit_pngs_are_scaled_not_clipped() -> None:
    levels = [0, 1000, 40000, 65535]
    grey = b"".join(
        b"\0" + b"".join(struct.pack(">H", levels[x // 16]) for x in range(64)) for _ in range(64)
    )
    clean = intake_image(raw_png(64, 64, bit_depth=16, colour_type=0, rows=grey), LIMITS)
    assert [pixel(clean, (x * 16 + 8, 8)) for x in range(4)] == [(v,) * 3 for v in (0, 4, 156, 255)]
    rgb = b"".join(b"\0" + struct.pack(">HHH", 65535, 40000, 1000) * 64 for _ in range(64))
    clean = intake_image(raw_png(64, 64, bit_depth=16, colour_type=2, rows=rgb), LIMITS)
    assert pixel(clean, (8, 8)) == (255, 156, 3)


def test_transparency_is_composited_on_white() -> None:
    palette = Image.new("P", (64, 64), 0)
    palette.putpalette([0, 0, 255, 255, 0, 0])
    palette.paste(1, (32, 0, 64, 64))
    clean = intake_image(encode(palette, "PNG", transparency=0), LIMITS)
    assert pixel(clean, (8, 8)) == WHITE and pixel(clean, (48, 8)) == RED

    rgba = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    rgba.paste((0, 0, 0, 128), (32, 0, 64, 64))
    for data in (encode(rgba, "PNG"), encode(rgba, "WEBP", lossless=True), encode(rgba.convert("LA"), "PNG")):
        clean = intake_image(data, LIMITS)
        assert pixel(clean, (8, 8)) == WHITE and near(pixel(clean, (48, 8)), (127, 127, 127), 2)


def test_an_embedded_icc_profile_is_converted_to_srgb() -> None:
    profile = linear_rgb_icc()
    assert ImageCms.ImageCmsProfile(io.BytesIO(profile)).profile.xcolor_space == "RGB "
    tagged = intake_image(encode(Image.new("RGB", (64, 64), GREY), "PNG", icc_profile=profile), LIMITS)
    assert near(pixel(tagged, (8, 8)), (188, 188, 188), 3)
    untagged = intake_image(encode(Image.new("RGB", (64, 64), GREY), "PNG"), LIMITS)
    assert pixel(untagged, (8, 8)) == GREY


def test_srgb_and_unusable_profiles_leave_the_pixels_as_they_are() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    no_curves = linear_rgb_icc().replace(b"rTRC", b"zzzz", 1)  # readable, but no transform can be built
    for profile in (srgb, no_curves, linear_rgb_icc()[:200], b"not a profile"):
        clean = intake_image(encode(Image.new("RGB", (64, 64), GREY), "PNG", icc_profile=profile), LIMITS)
        assert pixel(clean, (8, 8)) == GREY


def test_gps_exif_icc_and_text_never_leave_intake() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (37.0, 33.0, 1.0),
    }
    jpeg = encode(photo(), "JPEG", exif=exif, icc_profile=linear_rgb_icc(), comment=b"secret")
    assert Image.open(io.BytesIO(jpeg)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    plain_jpeg = encode(photo(), "JPEG", exif=exif, comment=b"secret")  # pixels pass through unconverted
    png = encode(photo(), "PNG", exif=exif, icc_profile=linear_rgb_icc(), pnginfo=png_text("secret"))
    for data in (jpeg, plain_jpeg, png):
        clean = intake_image(data, LIMITS)
        assert set(png_chunk_types(clean.data)) == {b"IHDR", b"IDAT", b"IEND"}
        assert clean.image.info == {} and not clean.image.getexif()
        for needle in (b"PhoneMaker", b"secret", b"Linear sRGB"):
            assert needle not in clean.data


def test_a_polyglot_trailer_is_dropped() -> None:
    source = photo()
    clean = intake_image(encode(source, "PNG") + zip_archive(), LIMITS)
    assert b"PK\x03\x04" not in clean.data and b"payload" not in clean.data
    assert clean.image.tobytes() == source.tobytes()  # lossless in, identical pixels out
    jpeg = intake_image(encode(source, "JPEG") + zip_archive(), LIMITS)
    assert jpeg.source_format == "jpeg" and b"PK\x03\x04" not in jpeg.data


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_allowed_formats_come_out_as_clean_rgb_pngs(fmt: str) -> None:
    clean = intake_image(encode(photo(), fmt), LIMITS)
    assert clean.source_format == fmt.lower() and clean.image.mode == "RGB"
    assert (clean.width, clean.height) == (96, 80)
    with Image.open(io.BytesIO(clean.data)) as reread:
        assert reread.format == "PNG" and reread.mode == "RGB"
        assert reread.tobytes() == clean.image.tobytes()


def test_the_real_test_photos_all_pass(shared_data: Path) -> None:
    paths = sorted(p for p in (shared_data / "faces").rglob("*") if p.suffix in {".jpg", ".png"})
    assert len(paths) >= 40
    for path in paths:
        clean = intake_image(path.read_bytes(), LIMITS)
        with Image.open(path) as original:
            assert clean.image.size == original.size and clean.image.mode == "RGB"


# --- byte caps ---------------------------------------------------------------------------------------


def test_declared_sizes_are_checked_before_download() -> None:
    check_declared_size(None, 10)
    check_declared_size(10, 10)
    with pytest.raises(UserError) as caught:
        check_declared_size(25 * MB + 1, 20 * MB)
    assert caught.value.key == "intake.too_large"
    assert caught.value.params == {"size_mb": 25.1, "limit_mb": 20}
    assert "25.1" in caught.value.render("en") and "20" in caught.value.render("ko")


def counting(chunks: list[bytes], pulled: list[int]) -> Iterator[bytes]:
    for chunk in chunks:
        pulled.append(len(chunk))
        yield chunk


def test_read_capped_stops_at_the_chunk_that_crosses_the_cap() -> None:
    assert read_capped([b"ab", b"", b"cd"], 4) == b"abcd"
    pulled: list[int] = []
    with pytest.raises(UserError) as caught:
        read_capped(counting([b"abc"] * 10, pulled), 7)  # the cap falls inside the third chunk
    assert caught.value.key == "intake.too_large" and len(pulled) == 3
    with pytest.raises(UserError):
        read_capped(itertools.repeat(b"x" * 1024), 10 * 1024)  # an endless body ends too


def test_aread_capped_stops_at_the_chunk_that_crosses_the_cap() -> None:
    pulled: list[int] = []

    async def body(chunks: list[bytes]) -> AsyncIterator[bytes]:
        for chunk in chunks:
            pulled.append(len(chunk))
            await asyncio.sleep(0)
            yield chunk

    assert asyncio.run(aread_capped(body([b"ab", b"cd"]), 4)) == b"abcd"
    pulled.clear()
    with pytest.raises(UserError) as caught:
        asyncio.run(aread_capped(body([b"abc"] * 10), 7))
    assert caught.value.key == "intake.too_large" and len(pulled) == 3


# --- fuzz --------------------------------------------------------------------------------------------


def mutate(data: bytes, rng: random.Random) -> bytes:
    buffer = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0:  # flip a few bytes anywhere
        for _ in range(rng.randint(1, 8)):
            buffer[rng.randrange(len(buffer))] = rng.randrange(256)
    elif kind == 1:  # damage the headers, where parsers make their decisions
        for _ in range(rng.randint(1, 4)):
            buffer[rng.randrange(min(len(buffer), 200))] = rng.randrange(256)
    elif kind == 2:  # truncate
        del buffer[rng.randrange(1, len(buffer)) :]
    elif kind == 3:  # insert junk
        at = rng.randrange(len(buffer))
        buffer[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    else:  # duplicate or drop a slice
        start = rng.randrange(len(buffer))
        end = min(len(buffer), start + rng.randint(1, 512))
        buffer[start:end] = buffer[start:end] * rng.randrange(3)
    return bytes(buffer)


@pytest.mark.timeout(60)
@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_mutated_files_give_a_user_error_or_a_clean_image_never_a_crash() -> None:
    rng = random.Random(20240613)
    seeds = [
        encode(photo(), "JPEG", quality=90),
        encode(photo(), "JPEG", progressive=True, exif=Image.Exif()),
        encode(photo(), "PNG"),
        encode(photo().convert("P"), "PNG", transparency=3),
        encode(photo(), "WEBP", quality=80),
        encode(photo().convert("RGBA"), "WEBP", lossless=True),
    ]
    outcomes: dict[str, int] = {}
    for case in range(400):
        data = mutate(seeds[case % len(seeds)], rng)
        started = time.perf_counter()
        try:
            clean = intake_image(data, LIMITS)
        except UserError as error:
            assert error.key.startswith("intake.") and error.render("ko")
            outcome = error.key
        else:
            assert clean.image.mode == "RGB" and clean.data.startswith(PNG_SIGNATURE)
            outcome = "ok"
        assert time.perf_counter() - started < 2.0, f"case {case} took too long"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    # The mutations must exercise both sides, or the test proves nothing.
    assert outcomes.get("ok", 0) > 40 and outcomes.get("intake.corrupt", 0) > 40, outcomes


@pytest.mark.parametrize("lossless", [False, True], ids=["VP8", "VP8L"])
def test_a_webp_header_is_read_as_pillow_reads_it(lossless: bool) -> None:
    from core.imaging.intake import _webp_pixels

    data = encode(Image.new("RGB", (321, 123), GREY), "WEBP", lossless=lossless)
    assert data[12:16] == (b"VP8L" if lossless else b"VP8 ")
    assert _webp_pixels(data) == 321 * 123
