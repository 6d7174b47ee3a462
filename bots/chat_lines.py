"""Typed console lines as core commands: ``/unmask me.jpg``, ``/suit me.jpg charcoal no-tie 3x4``,
``/tryon me.jpg shirt.jpg``, ``/sketch drawing.png 0.6``, a line that is only a path (a photo sent without a
command), ``/train a.jpg b.jpg``.

A file is an ``Upload`` like a chat attachment: its size is announced from the file system and its bytes are
read only when the core asks, capped at what the core allows.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Callable
from pathlib import Path

from core.errors import UserError
from core.imaging.intake import check_declared_size, read_capped
from core.ports import ChatRef
from core.studio import commands
from core.studio.commands import MAX_SELFIES_PER_COMMAND, Command, Upload

# Command words the console knows; a first word outside these is a path or an unknown command.
_SIMPLE: dict[str, Callable[..., Command]] = {
    "/start": commands.Start,
    "/help": commands.Help,
    "/done": commands.Done,
    "/status": commands.Status,
    "/cancel": commands.Cancel,
    "/settings": commands.Settings,
    "/forget": commands.Forget,
    "/privacy": commands.Privacy,
}
EXAMPLE_FLAG, EXAMPLE_PREFIX = "--example", "example="
# Catalogue keys of the console's own answers: a line that is no command, a path with no file behind it.
UNKNOWN_LINE = "console.unknown"
NO_FILE = "console.no_file"


def split_line(line: str) -> list[str]:
    """Words as a shell would split them (quotes keep a path with spaces whole); unbalanced quotes fall back
    to plain whitespace."""
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def file_upload(path: Path) -> Upload:
    """``path`` as an attachment. Raises ``UserError`` when there is no such file."""
    if not path.is_file():
        raise UserError(NO_FILE, path=str(path))
    size = path.stat().st_size

    async def fetch(max_bytes: int) -> bytes:
        check_declared_size(size, max_bytes)
        return await asyncio.to_thread(_read_capped, path, max_bytes)

    return Upload(fetch=fetch, size=size, filename=path.name, limit=None, message_id=None)


def _read_capped(path: Path, max_bytes: int) -> bytes:
    # One byte past the cap tells a file that grew since it was announced from one that fits.
    with path.open("rb") as file:
        return read_capped([file.read(max_bytes + 1)], max_bytes)


def looks_like_path(word: str) -> bool:
    """A word that names a file rather than a /suit option: options have neither slashes nor dots."""
    return "/" in word or "." in word or Path(word).is_file()


def parse_command(words: list[str], chat: ChatRef, key: str) -> list[Command]:
    """The command(s) a line of ``words`` means. Raises ``UserError`` for an unknown command or a missing
    file. Several commands only for ``/train`` with more photos than one command takes."""
    head, args = words[0], words[1:]
    if head in _SIMPLE:
        return [_SIMPLE[head](chat=chat, key=key)]
    if head == "/unmask":
        photo = file_upload(Path(args[0])) if args else None
        return [commands.Unmask(chat=chat, key=key, photo=photo)]
    if head == "/suit":
        return [_suit(args, chat, key)]
    if head == "/tryon":
        return [_tryon(args, chat, key)]
    if head == "/sketch":
        return [_sketch(args, chat, key)]
    if head == "/train":
        return _train(args, chat, key)
    if head == "/admin":
        return [commands.Admin(chat=chat, key=key, words=tuple(args))]
    path = " ".join(words)
    if not looks_like_path(path) or (
        head.startswith("/") and "/" not in head[1:] and not Path(path).is_file()
    ):
        raise UserError(UNKNOWN_LINE)  # an unknown command or a stray word: what the studio understands
    return [commands.Photo(chat=chat, key=key, photo=file_upload(Path(path)), private=True)]


def _suit(args: list[str], chat: ChatRef, key: str) -> commands.Suit:
    photo: Upload | None = None
    exemplar: Upload | None = None
    words: list[str] = []
    rest = iter(args)
    for word in rest:
        if word == EXAMPLE_FLAG:
            exemplar = file_upload(Path(next(rest, "")))
        elif word.startswith(EXAMPLE_PREFIX):
            exemplar = file_upload(Path(word.removeprefix(EXAMPLE_PREFIX)))
        elif photo is None and looks_like_path(word):
            photo = file_upload(Path(word))
        else:  # the core names an option it does not know
            words.append(word)
    return commands.Suit(chat=chat, key=key, photo=photo, words=tuple(words), exemplar=exemplar)


def _tryon(args: list[str], chat: ChatRef, key: str) -> commands.TryOn:
    """``/tryon [me.jpg [garment.jpg]]``: me first, then the garment; what is left out is asked for, as a
    chat asks for it."""
    if len(args) > 2:  # a stray word: what the studio understands
        raise UserError(UNKNOWN_LINE)
    uploads = [file_upload(Path(word)) for word in args]
    photo = uploads[0] if uploads else None
    garment = uploads[1] if len(uploads) > 1 else None
    return commands.TryOn(chat=chat, key=key, photo=photo, garment=garment)


def _sketch(args: list[str], chat: ChatRef, key: str) -> commands.Sketch:
    """``/sketch [drawing.png] [strength]``: a word that reads as a number is the strength (the core says
    what is wrong with it), the first other word the drawing's file; no file: the way to the canvas."""
    drawing: Upload | None = None
    words: list[str] = []
    for word in args:
        if drawing is None and not _is_number(word) and looks_like_path(word):
            drawing = file_upload(Path(word))
        else:
            words.append(word)
    return commands.Sketch(chat=chat, key=key, drawing=drawing, words=tuple(words))


def _is_number(word: str) -> bool:
    try:
        float(word.replace(",", "."))
    except ValueError:
        return False
    return True


def _train(args: list[str], chat: ChatRef, key: str) -> list[Command]:
    photos = [file_upload(Path(word)) for word in args]
    if len(photos) <= MAX_SELFIES_PER_COMMAND:
        return [commands.Train(chat=chat, key=key, photos=tuple(photos))]
    # A chat album holds ten photos; more are sent as several albums, each with its own key.
    step = MAX_SELFIES_PER_COMMAND
    return [
        commands.Train(chat=chat, key=f"{key}:{i // step}", photos=tuple(photos[i : i + step]))
        for i in range(0, len(photos), step)
    ]
