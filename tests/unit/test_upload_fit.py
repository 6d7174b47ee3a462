"""Results shrunk to fit a platform's upload limit (``bots.upload_fit``), the one helper both senders use."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bots.upload_fit import MAX_JPEG_QUALITY, MIN_JPEG_QUALITY, fit_upload
from tests.e2e.offline import photo_bytes


def png(width: int, height: int, noise: bool = False) -> bytes:
    return photo_bytes(width, height, fmt="PNG", noise=noise)


def jpeg_size(data: bytes, quality: int) -> int:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.tell()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_a_png_within_the_limit_goes_unchanged() -> None:
    result = png(200, 150)
    fitted = fit_upload(result, len(result))
    assert fitted.data is result and fitted.suffix == "png" and not fitted.reduced
    assert fitted.size == (200, 150) and fitted.quality is None


def test_over_the_limit_it_is_the_highest_quality_jpeg_that_fits_at_full_resolution() -> None:
    result = png(300, 300, noise=True)
    limit = (jpeg_size(result, MIN_JPEG_QUALITY) + jpeg_size(result, MAX_JPEG_QUALITY)) // 2
    fitted = fit_upload(result, limit)
    assert fitted.suffix == "jpg" and fitted.reduced and len(fitted.data) <= limit
    assert opened(fitted.data).format == "JPEG" and opened(fitted.data).size == (300, 300)
    assert fitted.quality is not None and MIN_JPEG_QUALITY <= fitted.quality < MAX_JPEG_QUALITY
    assert jpeg_size(result, fitted.quality + 1) > limit  # no better quality would have fitted


def test_a_result_that_fits_at_the_top_quality_gets_it() -> None:
    result = png(400, 300, noise=True)
    limit = jpeg_size(result, MAX_JPEG_QUALITY)
    assert limit < len(result)
    fitted = fit_upload(result, limit)
    assert fitted.quality == MAX_JPEG_QUALITY and fitted.size == (400, 300) and len(fitted.data) == limit


def test_when_even_the_lowest_quality_is_too_large_the_picture_shrinks_keeping_its_shape() -> None:
    result = png(400, 200, noise=True)
    limit = jpeg_size(result, MIN_JPEG_QUALITY) // 3
    fitted = fit_upload(result, limit)
    width, height = opened(fitted.data).size
    assert len(fitted.data) <= limit and (width, height) == fitted.size
    assert width < 400 and abs(width / height - 2) < 0.05


def test_a_limit_on_the_sides_shrinks_even_a_png_within_the_byte_limit() -> None:
    result = png(300, 100)
    fitted = fit_upload(result, len(result), max_sides_sum=200)
    width, height = opened(fitted.data).size
    assert fitted.suffix == "jpg" and width + height <= 200 and abs(width / height - 3) < 0.05


def test_a_limit_nothing_fits_is_an_error_not_an_endless_loop() -> None:
    with pytest.raises(ValueError, match="10 bytes"):
        fit_upload(png(64, 64, noise=True), 10)
