"""The platform-neutral command core's vocabulary: what a chat user asks (commands), what the studio answers
(replies), and the table of commands every front end offers (``COMMANDS``).

A front end turns its platform's update into one of these frozen command objects, awaits
``Studio.handle(command)`` (``core.studio.frontdesk``) and renders the ``Reply`` in its own terms: a Telegram
message with an inline keyboard, a Discord interaction response with a view, a console line. Photos travel as
``Upload``s that are fetched only after the core has checked their declared size and type, so a front end
never downloads a file the core would refuse.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from core import config
from core.imaging.sketch_support import can_draw_faces
from core.ports import ChatRef

# --- inputs ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Upload:
    """A photo attached to a command, not downloaded yet."""

    # Downloads the file, reading at most the given number of bytes (``UserError("intake.too_large")``
    # beyond it: an announced size can lie).
    fetch: Callable[[int], Awaitable[bytes]]
    size: int | None = None  # as the platform announced it
    content_type: str | None = None
    filename: str | None = None
    limit: int | None = None  # the platform's own cap for this file (Discord: the interaction's limit)
    message_id: str | None = None  # the platform message that carried it: results reply to it
    # Who sent it (a ``ChatRef.user_id``), when it came in an earlier message the command replies to.
    sender_id: str | None = None
    # The album it came in (Telegram's media group): the album's other photos are on their way.
    album: str | None = None


@dataclass(frozen=True, kw_only=True)
class Command:
    chat: ChatRef
    # Idempotency: the platform's id of the update ("tg:<update id>", "dc:<interaction id>"). A redelivered
    # update makes no second job and gets no second reply.
    key: str | None = None


@dataclass(frozen=True, kw_only=True)
class Start(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class Help(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class Unmask(Command):
    photo: Upload | None = None  # None: wait for the photo in a later message


@dataclass(frozen=True, kw_only=True)
class Suit(Command):
    photo: Upload | None = None  # None: show the option buttons and wait for the photo
    words: tuple[str, ...] = ()  # options as words, in any order: "charcoal", "no-tie", "3x4", "grey"
    exemplar: Upload | None = None  # a picture of the suit to follow


@dataclass(frozen=True, kw_only=True)
class TryOn(Command):
    """/tryon: the member's own photo and a picture of a top to put on them (anyone's: a shop photo). What is
    missing is asked for and comes in later messages (``core.studio.tryon``)."""

    photo: Upload | None = None
    garment: Upload | None = None


@dataclass(frozen=True, kw_only=True)
class Sketch(Command):
    """/sketch: a photo-real face painted from the member's drawing (a photo of paper, an image file), or,
    without one, the way to the drawing canvas (``core.studio.sketch``)."""

    drawing: Upload | None = None
    words: tuple[str, ...] = ()  # the strength as typed ("0.7"), parsed by the core
    # Said where only the member reads the answer: a link that draws as them may be shown.
    private: bool = True


@dataclass(frozen=True, kw_only=True)
class Photo(Command):
    """A photo sent with no command: a selfie while /train collects, the photo a pending /unmask, /suit or
    /tryon waits for, or (in a private chat) a question back."""

    photo: Upload
    private: bool = True


@dataclass(frozen=True, kw_only=True)
class Train(Command):
    """/train: the consent question, or (consented) open the upload and take ``photos`` as selfies."""

    photos: tuple[Upload, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Done(Command):
    """Finish sending selfies and queue the training."""


@dataclass(frozen=True, kw_only=True)
class Status(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class Cancel(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class Settings(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class Forget(Command):
    pass


@dataclass(frozen=True, kw_only=True)
class Privacy(Command):
    """What the studio keeps and for how long (retention, moderation, /train's rules)."""


@dataclass(frozen=True, kw_only=True)
class Admin(Command):
    """/admin and its words (``core.studio.admin``): for operators only, in no command menu."""

    words: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Press(Command):
    """A button of ours was pressed; ``data`` is the ``Button.data`` it carried."""

    data: str


# --- replies -----------------------------------------------------------------------------------------------

ButtonStyle = Literal["primary", "secondary", "danger"]
# Telegram allows 64 bytes of callback data, Discord 100 characters of custom id.
MAX_BUTTON_DATA = 64


@dataclass(frozen=True)
class Button:
    label: str
    # "<area>:<owner user id>:<choice>...": the owner is checked by the core, so a button answers only the
    # member it was made for, on every platform. Empty for a link.
    data: str
    style: ButtonStyle = "secondary"
    # A link: the button opens this page instead of coming back to us (the console prints it).
    url: str | None = None
    # Where the platform opens pages inside the chat and signs the member in itself (a Telegram Mini App),
    # it opens this page there instead of ``url``.
    app_url: str | None = None

    @property
    def is_link(self) -> bool:
        return self.url is not None or self.app_url is not None


Buttons = tuple[tuple[Button, ...], ...]  # rows


@dataclass(frozen=True)
class Reply:
    """What the core answers to one command."""

    text: str = ""
    buttons: Buttons = ()
    # A user error: shown only to the requester where the platform can (Discord: ephemeral).
    error: bool = False
    # For a button press: replace the message the button is on (else answer with a new message).
    replace: bool = False
    # A job status message ("Queued (position 2)"): once sent, the front end reports the message's id with
    # ``Studio.set_status_message(job_id, id)`` so progress edits it.
    job_id: str | None = None
    # The platform message to answer (the photo's), where the platform threads replies.
    reply_to: str | None = None
    # Jobs this reply started without a status message of their own (the selfies of one /train): their
    # verdicts answer the same conversation, where the platform can thread them (Discord: followups).
    answers: tuple[str, ...] = ()

    @property
    def silent(self) -> bool:
        """Nothing to say (a redelivered update, a selfie inside an album): send nothing."""
        return not self.text


SILENT = Reply()


# --- the command table -------------------------------------------------------------------------------------

OptionKind = Literal["attachment", "choice", "number"]


@dataclass(frozen=True)
class OptionSpec:
    name: str
    kind: OptionKind
    required: bool = False
    choices: tuple[str, ...] = ()  # for "choice": the words the core's parser accepts
    repeat: int = 1  # attachments: how many one command takes (photo, photo2, ... photoN)
    bounds: tuple[float, float] | None = None  # for "number": the lowest and highest value taken


@dataclass(frozen=True)
class CommandSpec:
    """A command every front end offers; its description is ``cmd.<name>`` in the catalogue."""

    name: str
    options: tuple[OptionSpec, ...] = field(default=())


def _suit_options() -> tuple[OptionSpec, ...]:
    from core.imaging.idphoto.catalog import catalog

    c = catalog()
    return (
        OptionSpec("photo", "attachment", required=True),
        OptionSpec("style", "choice", choices=tuple(c.styles)),
        OptionSpec("look", "choice", choices=("tie", "no-tie", "women")),
        OptionSpec("background", "choice", choices=tuple(c.backgrounds)),
        OptionSpec("format", "choice", choices=tuple(c.formats)),
        OptionSpec("example", "attachment"),
    )


# Telegram adds the platform's own /start; everything else is here, once.
MAX_SELFIES_PER_COMMAND = 10


def command_table() -> tuple[CommandSpec, ...]:
    return (
        CommandSpec("unmask", (OptionSpec("photo", "attachment", required=True),)),
        CommandSpec("suit", _suit_options()),
        CommandSpec(
            "tryon",
            (
                OptionSpec("photo", "attachment", required=True),
                OptionSpec("garment", "attachment", required=True),
            ),
        ),
        CommandSpec(
            "sketch",
            (OptionSpec("drawing", "attachment"), OptionSpec("strength", "number", bounds=(0.0, 1.0))),
        ),
        CommandSpec("train", (OptionSpec("photo", "attachment", repeat=MAX_SELFIES_PER_COMMAND),)),
        CommandSpec("done"),
        CommandSpec("status"),
        CommandSpec("cancel"),
        CommandSpec("settings"),
        CommandSpec("forget"),
        CommandSpec("privacy"),
        CommandSpec("help"),
    )


def offered_commands(settings: config.Settings) -> tuple[CommandSpec, ...]:
    """The table less what this server cannot do (/sketch where no model draws faces): what the command
    menus and /help show. Every command of the table still answers, if only to say it is not available."""
    return tuple(spec for spec in command_table() if spec.name not in unavailable_commands(settings))


def unavailable_commands(settings: config.Settings) -> frozenset[str]:
    return frozenset() if can_draw_faces(settings.models) else frozenset({"sketch"})
