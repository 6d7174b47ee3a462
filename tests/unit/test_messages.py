import string

import pytest

from core.errors import UserError
from core.messages import LANGUAGES, MESSAGES, normalize_language, t


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_language_has_every_key_with_the_same_placeholders() -> None:
    english = MESSAGES["en"]
    for lang in LANGUAGES:
        table = MESSAGES[lang]
        assert set(table) == set(english), f"{lang}: keys differ: {set(table) ^ set(english)}"
        for key, template in table.items():
            assert _fields(template) == _fields(english[key]), f"{lang}:{key} placeholders differ"


@pytest.mark.parametrize(
    ("tag", "expected"), [("ko-KR", "ko"), ("ko", "ko"), ("en-GB", "en"), ("fr", "en"), (None, "en")]
)
def test_language_tags_map_to_the_catalogue(tag: str | None, expected: str) -> None:
    assert normalize_language(tag) == expected


def test_user_errors_render_in_the_users_language() -> None:
    error = UserError("unmask.face_too_small", face_px=20, min_px=40)
    assert "20" in error.render("en") and "40" in error.render("en")
    assert error.render("ko") != error.render("en")
    assert "얼굴" in error.render("ko")
    assert t("job.queued", "ko", position=3).count("3") == 1
