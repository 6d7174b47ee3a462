"""The ID-photo catalogue: ``catalog.toml`` read into typed, validated records, and the user's /suit options.

Formats, backgrounds, papers and styles are data: adding a format is an edit of the TOML file (plus its label
in ``core.messages``), not of code.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator

from core.errors import UserError

MM_PER_INCH = 25.4
RGB = tuple[int, int, int]
Range = tuple[float, float]


class IdFormat(BaseModel, frozen=True):
    id: str
    aliases: tuple[str, ...] = ()
    width_mm: float = Field(gt=0)
    height_mm: float = Field(gt=0)
    head_mm: Range
    crown_margin_mm: Range
    eyes_from_bottom_mm: Range | None = None
    # Allowed backgrounds; empty = any.
    backgrounds: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _ranges(self) -> IdFormat:
        for name in ("head_mm", "crown_margin_mm", "eyes_from_bottom_mm"):
            low_high = getattr(self, name)
            if low_high is not None and not 0 <= low_high[0] <= low_high[1] <= self.height_mm:
                raise ValueError(f"{self.id}: {name} must be an increasing range inside the photo")
        return self

    def pixels(self, dpi: int) -> tuple[int, int]:
        return (round(self.width_mm * dpi / MM_PER_INCH), round(self.height_mm * dpi / MM_PER_INCH))


class Paper(BaseModel, frozen=True):
    id: str
    aliases: tuple[str, ...] = ()
    width_mm: float = Field(gt=0)
    height_mm: float = Field(gt=0)


class SuitStyle(BaseModel, frozen=True):
    id: str
    aliases: tuple[str, ...] = ()
    rgb: RGB
    words: str


class Prompts(BaseModel, frozen=True):
    classic_tie: str
    classic_no_tie: str
    women: str
    negative: str


class Catalog(BaseModel, frozen=True):
    formats: dict[str, IdFormat]
    backgrounds: dict[str, RGB]
    papers: dict[str, Paper]
    styles: dict[str, SuitStyle]
    prompts: Prompts
    # option kind -> value -> aliases
    aliases: dict[str, dict[str, tuple[str, ...]]]
    defaults: dict[str, Any]


@cache
def catalog(path: Path | None = None) -> Catalog:
    raw = tomllib.loads((path or Path(__file__).with_name("catalog.toml")).read_text("utf-8"))

    def keyed(table: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {key: {"id": key, **value} for key, value in table.items()}

    return Catalog.model_validate(
        {
            "formats": keyed(raw["formats"]),
            "backgrounds": raw["backgrounds"],
            "papers": keyed(raw["papers"]),
            "styles": keyed(raw["styles"]),
            "prompts": raw["prompts"],
            "aliases": {
                "background": raw["background_aliases"],
                "tie": raw["tie_aliases"],
                "cut": raw["cut_aliases"],
                "dpi": raw["dpi_aliases"],
            },
            "defaults": raw["defaults"],
        }
    )


@dataclass(frozen=True)
class SuitOptions:
    """What the user chose for one /suit job. Stored with the job as plain JSON (``as_params``)."""

    style: str
    tie: bool
    cut: str
    background: str
    format: str
    dpi: int
    paper: str

    @classmethod
    def defaults(cls) -> SuitOptions:
        d = catalog().defaults
        return cls(
            d["style"], bool(d["tie"]), d["cut"], d["background"], d["format"], int(d["dpi"]), d["paper"]
        )

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> SuitOptions:
        base = asdict(cls.defaults())
        options = cls(**{key: params.get(key, value) for key, value in base.items()})
        return options.checked()

    def as_params(self) -> dict[str, Any]:
        return asdict(self)

    def checked(self) -> SuitOptions:
        """``UserError`` for a combination the format does not allow (a Korean passport on blue)."""
        c = catalog()
        if self.style not in c.styles or self.format not in c.formats or self.paper not in c.papers:
            raise ValueError(f"unknown suit options {self}")
        if self.background not in c.backgrounds or self.cut not in ("classic", "women"):
            raise ValueError(f"unknown suit options {self}")
        allowed = c.formats[self.format].backgrounds
        if allowed and self.background not in allowed:
            raise UserError("suit.background_not_allowed", background=self.background, format=self.format)
        return self

    @property
    def id_format(self) -> IdFormat:
        return catalog().formats[self.format]

    @property
    def suit_style(self) -> SuitStyle:
        return catalog().styles[self.style]

    @property
    def paper_record(self) -> Paper:
        return catalog().papers[self.paper]

    @property
    def background_rgb(self) -> RGB:
        return catalog().backgrounds[self.background]

    def summary(self, lang: str) -> str:
        """The choice in words, in the user's language ("Navy, Tie, White background, Passport/visa ...")."""
        from core.messages import t

        style = t(f"suit.cut.{self.cut}", lang) if self.cut == "women" else ""
        return t(
            "suit.summary",
            lang,
            style=" ".join(filter(None, (t(f"suit.style.{self.style}", lang), style))),
            tie=t("suit.tie.tie" if self.tie else "suit.tie.no-tie", lang),
            background=t(f"suit.background.{self.background}", lang),
            format=t(f"suit.format.{self.format}", lang),
        )

    def prompt(self) -> tuple[str, str]:
        """The generative prompt and negative prompt for this style."""
        p = catalog().prompts
        template = p.women if self.cut == "women" else (p.classic_tie if self.tie else p.classic_no_tie)
        background = {"white": "white", "grey": "light grey", "blue": "light blue"}.get(
            self.background, self.background
        )
        return template.format(words=self.suit_style.words, background=background), p.negative


def parse_suit_options(words: list[str], base: SuitOptions | None = None) -> SuitOptions:
    """``/suit navy no-tie passport grey`` -> options; words may come in any order. ``UserError`` naming the
    word it does not know."""
    options = asdict(base or SuitOptions.defaults())
    lookup = _alias_table()
    for word in words:
        hit = lookup.get(word.strip().lower())
        if hit is None:
            raise UserError("suit.unknown_option", option=word)
        kind, value = hit
        options[kind] = value
    women_without_tie = options["cut"] == "women"
    return SuitOptions(**options | ({"tie": False} if women_without_tie else {})).checked()


@cache
def _alias_table() -> dict[str, tuple[str, Any]]:
    c = catalog()
    table: dict[str, tuple[str, Any]] = {}

    def add(kind: str, value: Any, names: tuple[str, ...] | list[str], key: str) -> None:
        for name in (key, *names):
            table[name.lower()] = (kind, value)

    for key, fmt in c.formats.items():
        add("format", key, fmt.aliases, key)
    for key, style in c.styles.items():
        add("style", key, style.aliases, key)
    for key, paper in c.papers.items():
        add("paper", key, paper.aliases, key)
    for kind, values in c.aliases.items():
        for key, names in values.items():
            add(kind, _typed(kind, key), names, key)
    return table


def _typed(kind: str, key: str) -> Any:
    if kind == "tie":
        return key == "tie"
    if kind == "dpi":
        return int(key)
    return key
