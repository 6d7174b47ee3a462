"""Every user-visible sentence, in English and Korean. Handlers and pipelines refer to keys, never to text.

Keys are grouped by area. Placeholders use ``str.format`` names; every language must have every key
(a test checks this).
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("en", "ko")

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        # --- chat ---
        "start": (
            "Hi! I'm Atelier, a portrait studio.\n"
            "Send a photo of a face wearing a mask with the caption /unmask and I'll remove the mask.\n"
            "/help lists everything I can do."
        ),
        "help": (
            "What I can do:\n"
            "/unmask - send a photo of a face wearing a mask with this caption (or reply /unmask to a photo, "
            "or send /unmask and then the photo). You get back the same photo with the mask removed, as a photo "
            "and as a full-resolution file.\n"
            "/help - this message"
        ),
        "cmd.start": "Start",
        "cmd.help": "What this bot can do",
        "cmd.unmask": "Remove a face mask from a photo",
        "unmask.send_photo": "Now send the photo (as a photo or as a file) within {minutes} minutes.",
        "unmask.which_command": (
            "What should I do with this photo? Send it with the caption /unmask, or reply /unmask to it."
        ),
        "job.queued": "Queued (position {position}).",
        "job.running": "Working on it: {stage} {percent}%",
        "job.done": "Done.",
        "job.failed": "Sorry, that did not work: {reason}",
        "job.crashed": (
            "Sorry, this photo kept crashing our worker, so I gave up after {attempts} attempts. "
            "Please try another photo."
        ),
        "job.timed_out": "Sorry, this took too long and was stopped. Please try a smaller photo.",
        "job.cancelled": "Cancelled.",
        "result.caption": "Here is your photo without the mask. The file below has the full resolution.",
        "error.internal": "Sorry, something went wrong on our side (error id {error_id}). Please try again later.",
        "error.busy": "The studio is busy right now. Please try again in a minute.",
        "stage.queued": "queued",
        "stage.detect": "finding faces",
        "stage.classify": "looking for masks",
        "stage.segment": "outlining the mask",
        "stage.upscale": "enlarging the face",
        "stage.inpaint": "painting the face",
        "stage.composite": "finishing",
        # --- intake ---
        "intake.too_large": "This file is {size_mb} MB; the limit is {limit_mb} MB. Please send a smaller photo.",
        "intake.empty": "This file is empty. Please send a photo.",
        "intake.not_image": ("This file is not a photo I can read. Please send a JPEG, PNG or WebP image."),
        "intake.unsupported_format": (
            "{format} images are not supported. Please send a JPEG, PNG or WebP image."
        ),
        "intake.corrupt": "This image is damaged or incomplete. Please send the photo again.",
        "intake.too_many_pixels": (
            "This image is {megapixels} megapixels; the limit is {limit_megapixels}. Please send a smaller photo."
        ),
        "intake.animated": "Animated images are not supported. Please send a still photo.",
        "intake.too_small": "This image is only {width}×{height} pixels. Please send a photo at least {min_side} pixels on each side.",
        "intake.bad_aspect": (
            "This image is too long and thin ({width}×{height}). Please crop it closer to the face."
        ),
        # --- unmask ---
        "unmask.no_face": "I could not find a face in this photo. Please send a photo where the face is clearly visible.",
        "unmask.no_mask": "I found a face but no face mask on it. Please send a photo of someone wearing a mask.",
        "unmask.unsafe_result": (
            "The content filter stopped this result, so I did not send it. Please try another photo."
        ),
        "unmask.face_too_small": (
            "The face is too small ({face_px} pixels across; I need at least {min_px}). "
            "Please send a closer or higher-resolution photo."
        ),
    },
    "ko": {
        "start": (
            "안녕하세요! 포트레이트 스튜디오 Atelier입니다.\n"
            "마스크를 쓴 얼굴 사진을 /unmask 캡션과 함께 보내 주시면 마스크를 지워 드립니다.\n"
            "/help 로 모든 기능을 볼 수 있습니다."
        ),
        "help": (
            "사용할 수 있는 기능:\n"
            "/unmask - 마스크를 쓴 얼굴 사진에 이 캡션을 달아 보내 주세요 (사진에 /unmask 로 답장하거나, "
            "/unmask 를 보낸 뒤 사진을 보내도 됩니다). 마스크를 지운 같은 사진을 사진과 원본 해상도 파일로 "
            "돌려드립니다.\n"
            "/help - 이 안내"
        ),
        "cmd.start": "시작하기",
        "cmd.help": "이 봇이 할 수 있는 일",
        "cmd.unmask": "사진에서 마스크 지우기",
        "unmask.send_photo": "이제 {minutes}분 안에 사진(사진 또는 파일)을 보내 주세요.",
        "unmask.which_command": "이 사진으로 무엇을 할까요? /unmask 캡션을 달아 보내거나, 사진에 /unmask 로 답장해 주세요.",
        "job.queued": "대기열에 추가되었습니다 ({position}번째).",
        "job.running": "작업 중: {stage} {percent}%",
        "job.done": "완료되었습니다.",
        "job.failed": "죄송합니다. 처리하지 못했습니다: {reason}",
        "job.crashed": (
            "죄송합니다. 이 사진을 처리하는 동안 작업자가 계속 중단되어 {attempts}번 시도 후 포기했습니다. "
            "다른 사진으로 시도해 주세요."
        ),
        "job.timed_out": "죄송합니다. 처리 시간이 너무 길어 중단되었습니다. 더 작은 사진으로 시도해 주세요.",
        "job.cancelled": "취소되었습니다.",
        "result.caption": "마스크를 지운 사진입니다. 아래 파일은 원본 해상도입니다.",
        "error.internal": "죄송합니다. 서버에 문제가 생겼습니다 (오류 번호 {error_id}). 잠시 후 다시 시도해 주세요.",
        "error.busy": "지금은 스튜디오가 바쁩니다. 1분 뒤에 다시 시도해 주세요.",
        "stage.queued": "대기 중",
        "stage.detect": "얼굴 찾는 중",
        "stage.classify": "마스크 확인 중",
        "stage.segment": "마스크 영역 표시 중",
        "stage.upscale": "얼굴 확대 중",
        "stage.inpaint": "얼굴 그리는 중",
        "stage.composite": "마무리 중",
        "intake.too_large": "파일 크기가 {size_mb}MB입니다. 최대 {limit_mb}MB까지 가능합니다. 더 작은 사진을 보내 주세요.",
        "intake.empty": "빈 파일입니다. 사진을 보내 주세요.",
        "intake.not_image": "읽을 수 있는 사진 파일이 아닙니다. JPEG, PNG 또는 WebP 이미지를 보내 주세요.",
        "intake.unsupported_format": "{format} 이미지는 지원하지 않습니다. JPEG, PNG 또는 WebP 이미지를 보내 주세요.",
        "intake.corrupt": "이미지가 손상되었거나 일부만 전송되었습니다. 사진을 다시 보내 주세요.",
        "intake.too_many_pixels": (
            "이 이미지는 {megapixels}메가픽셀입니다. 최대 {limit_megapixels}메가픽셀까지 가능합니다. "
            "더 작은 사진을 보내 주세요."
        ),
        "intake.animated": "움직이는 이미지는 지원하지 않습니다. 정지된 사진을 보내 주세요.",
        "intake.too_small": "이미지가 {width}×{height} 픽셀밖에 되지 않습니다. 각 변이 {min_side} 픽셀 이상인 사진을 보내 주세요.",
        "intake.bad_aspect": "이미지가 너무 길고 좁습니다 ({width}×{height}). 얼굴 가까이로 잘라서 보내 주세요.",
        "unmask.no_face": "사진에서 얼굴을 찾지 못했습니다. 얼굴이 잘 보이는 사진을 보내 주세요.",
        "unmask.no_mask": "얼굴은 찾았지만 마스크가 보이지 않습니다. 마스크를 쓴 사람의 사진을 보내 주세요.",
        "unmask.unsafe_result": "콘텐츠 필터가 이 결과를 막아서 보내지 않았습니다. 다른 사진으로 다시 시도해 주세요.",
        "unmask.face_too_small": (
            "얼굴이 너무 작습니다 (가로 {face_px} 픽셀, 최소 {min_px} 픽셀 필요). "
            "더 가까이에서 찍었거나 해상도가 높은 사진을 보내 주세요."
        ),
    },
}


def normalize_language(code: str | None, default: str = "en") -> str:
    """Map a platform language tag (``ko-KR``, ``en``, ``None``) to a catalogue language."""
    if code:
        base = code.split("-")[0].split("_")[0].lower()
        if base in MESSAGES:
            return base
    return default if default in MESSAGES else "en"


def t(key: str, lang: str = "en", **params: Any) -> str:
    """The sentence for ``key`` in ``lang`` (falling back to English), formatted with ``params``."""
    table = MESSAGES.get(normalize_language(lang))
    template = (table or {}).get(key) or MESSAGES["en"][key]
    return template.format(**params)
