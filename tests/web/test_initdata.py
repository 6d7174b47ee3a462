"""Telegram Mini App initData, checked as Telegram specifies (bots/web/initdata.py)."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlencode

import pytest

from bots.web.initdata import InvalidInitData, chat_from_init_data, check_init_data
from core.ports import ChatRef
from tests.web.signing import BOT_TOKEN, telegram_init_data

HOUR = 3600


def test_a_correctly_signed_init_data_names_the_user_and_their_private_chat() -> None:
    chat = chat_from_init_data(telegram_init_data(777, lang="ko-KR"), BOT_TOKEN, max_age_s=HOUR)
    assert chat == ChatRef("telegram", "777", "777", "ko")


def test_telegrams_published_order_is_sorted_keys_joined_by_newlines() -> None:
    # The fields arrive in any order; the signature is over the sorted pairs.
    shuffled = urlencode(list(reversed(parse_qsl(telegram_init_data()))))
    assert check_init_data(shuffled, BOT_TOKEN, max_age_s=HOUR)["query_id"] == "AAH-test"


def test_a_tampered_field_is_refused() -> None:
    fields = dict(parse_qsl(telegram_init_data(777)))
    fields["user"] = fields["user"].replace("777", "778")
    with pytest.raises(InvalidInitData, match="signature"):
        check_init_data(urlencode(fields), BOT_TOKEN, max_age_s=HOUR)


def test_another_bots_signature_is_refused() -> None:
    with pytest.raises(InvalidInitData, match="signature"):
        check_init_data(telegram_init_data(token="999:other"), BOT_TOKEN, max_age_s=HOUR)


def test_a_stale_init_data_is_refused() -> None:
    old = telegram_init_data(auth_date=time.time() - HOUR - 5)
    with pytest.raises(InvalidInitData, match="stale"):
        check_init_data(old, BOT_TOKEN, max_age_s=HOUR)
    assert check_init_data(old, BOT_TOKEN, max_age_s=2 * HOUR)  # the limit is the setting's


def test_init_data_from_the_future_is_refused() -> None:
    with pytest.raises(InvalidInitData, match="stale"):
        check_init_data(telegram_init_data(auth_date=time.time() + HOUR), BOT_TOKEN, max_age_s=HOUR)


@pytest.mark.parametrize("drop", ["hash", "auth_date", "user"])
def test_missing_fields_are_refused(drop: str) -> None:
    fields = dict(parse_qsl(telegram_init_data()))
    del fields[drop]
    with pytest.raises(InvalidInitData):
        chat_from_init_data(urlencode(fields), BOT_TOKEN, max_age_s=HOUR)


@pytest.mark.parametrize("garbage", ["", "hash", "a=1&a=2&hash=00", "%zz=1"])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(InvalidInitData):
        check_init_data(garbage, BOT_TOKEN, max_age_s=HOUR)
