"""The signed canvas links of /sketch: a token names its member until it expires, and nothing else reads as
one: not an altered token, not one signed with another secret, not a garbled string."""

from __future__ import annotations

import base64
import json

import pytest

from core.ports import ChatRef
from core.studio.canvas_links import InvalidCanvasToken, canvas_url, make_canvas_token, read_canvas_token

SECRET = "s3cret-of-this-server"
MEMBER = ChatRef("discord", "123456789012345678", "876543210987654321", "ko")
NOW = 1_800_000_000.0


def test_a_token_reads_back_as_the_member_it_was_made_for() -> None:
    token = make_canvas_token(SECRET, MEMBER, ttl_s=600, now=NOW)
    assert read_canvas_token(SECRET, token, now=NOW + 599) == MEMBER


def test_a_token_is_compact_and_safe_in_a_url() -> None:
    token = make_canvas_token(SECRET, MEMBER, ttl_s=600, now=NOW)
    assert len(token) < 200
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_an_expired_token_is_refused() -> None:
    token = make_canvas_token(SECRET, MEMBER, ttl_s=600, now=NOW)
    with pytest.raises(InvalidCanvasToken, match="expired"):
        read_canvas_token(SECRET, token, now=NOW + 600)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = make_canvas_token("another-server", MEMBER, ttl_s=600, now=NOW)
    with pytest.raises(InvalidCanvasToken):
        read_canvas_token(SECRET, token, now=NOW)


def _with_payload(token: str, **changes: object) -> str:
    payload, _, signature = token.partition(".")
    fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    altered = base64.urlsafe_b64encode(json.dumps(fields | changes).encode()).rstrip(b"=").decode()
    return f"{altered}.{signature}"


@pytest.mark.parametrize("changes", [{"u": "1"}, {"c": "2"}, {"e": int(NOW) + 10**6}, {"p": "telegram"}])
def test_an_altered_token_is_refused(changes: dict[str, object]) -> None:
    token = make_canvas_token(SECRET, MEMBER, ttl_s=600, now=NOW)
    with pytest.raises(InvalidCanvasToken):
        read_canvas_token(SECRET, _with_payload(token, **changes), now=NOW)


def test_a_changed_signature_is_refused() -> None:
    token = make_canvas_token(SECRET, MEMBER, ttl_s=600, now=NOW)
    last = token[-1]
    with pytest.raises(InvalidCanvasToken):
        read_canvas_token(SECRET, token[:-1] + ("A" if last != "A" else "B"), now=NOW)


@pytest.mark.parametrize("garbage", ["", ".", "abc", "abc.def", "!!!.???", "e30.e30", "a.b.c"])
def test_garbage_is_refused_as_an_invalid_token(garbage: str) -> None:
    with pytest.raises(InvalidCanvasToken):
        read_canvas_token(SECRET, garbage, now=NOW)


def test_no_token_is_made_or_read_without_a_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        make_canvas_token("", MEMBER, ttl_s=600, now=NOW)
    token = make_canvas_token(SECRET, MEMBER, ttl_s=600, now=NOW)
    with pytest.raises(InvalidCanvasToken):
        read_canvas_token("", token, now=NOW)


def test_the_canvas_url_carries_the_token_on_the_sketch_page() -> None:
    token = make_canvas_token(SECRET, MEMBER, ttl_s=600, now=NOW)
    assert canvas_url("https://atelier.example", token) == f"https://atelier.example/sketch?token={token}"
    assert canvas_url("https://atelier.example/", token) == f"https://atelier.example/sketch?token={token}"
