"""The core's buttons: data that fits every platform and reads back to its owner."""

from __future__ import annotations

import uuid

import pytest

from core.imaging.idphoto.catalog import SuitOptions
from core.ports import ChatRef, JobState, JobView
from core.store import UserPrefs
from core.studio import buttons
from core.studio.buttons import OwnedButton
from core.studio.commands import MAX_BUTTON_DATA
from core.studio.frontdesk import looks_like_image

# The longest ids the platforms hand out: Discord snowflakes have up to 20 digits.
OWNER = "1" * 20


def all_buttons() -> list[str]:
    job = uuid.uuid4().hex
    chat = ChatRef("discord", OWNER, "2" * 20)
    rows = [
        *buttons.consent_buttons(OWNER, "ko"),
        *buttons.train_done_buttons(OWNER, "en"),
        *buttons.settings_buttons(UserPrefs(), OWNER, "en"),
        *buttons.forget_buttons(OWNER, "en"),
        *buttons.suit_buttons(SuitOptions.defaults(), OWNER, "ko"),
    ]
    for state in (JobState.RUNNING, JobState.DONE):
        view = JobView(job, "unmask", "gpu", state, chat, "in", result_key="out")
        rows += list(buttons.job_buttons(view))
    return [button.data for row in rows for button in row]


def test_every_button_fits_telegram_callback_data_and_names_its_owner() -> None:
    data = all_buttons()
    assert data and all(len(d.encode()) <= MAX_BUTTON_DATA for d in data)
    assert all(OwnedButton.parse(d) is not None and OwnedButton.parse(d).owner_id == OWNER for d in data)  # type: ignore[union-attr]
    assert len(set(data)) == len(data)


@pytest.mark.parametrize("data", ["", "suit", "suit:", ":1:x", "suit::style:navy"])
def test_data_no_button_of_ours_carries_parses_to_nothing(data: str) -> None:
    assert OwnedButton.parse(data) is None


def test_button_data_over_the_limit_is_refused_when_made() -> None:
    with pytest.raises(ValueError):
        _ = OwnedButton("job", OWNER, ("cancel", "x" * 40)).data


def test_finished_failures_and_selfie_checks_offer_no_try_again() -> None:
    chat = ChatRef("telegram", "5", "5")
    failed = JobView("j", "unmask", "gpu", JobState.FAILED, chat, "in")
    selfie = JobView("s", "selfie", "cpu", JobState.DONE, chat, "in", result_key=None)
    assert buttons.job_buttons(failed) == () and buttons.job_buttons(selfie) == ()


@pytest.mark.parametrize(
    ("content_type", "filename", "image"),
    [
        ("image/jpeg", "a.jpg", True),
        (None, None, True),
        ("application/octet-stream", "scan.heic", True),  # unknown type: intake sniffs the bytes
        ("application/pdf", "cv.pdf", False),
        ("video/mp4", "clip.mp4", False),
        ("application/pdf", "photo.png", True),  # the name says image: let intake decide
    ],
)
def test_only_files_whose_type_and_name_both_say_otherwise_are_refused_unread(
    content_type: str | None, filename: str | None, image: bool
) -> None:
    assert looks_like_image(content_type, filename) is image
