"""Where a standard-tier backend's weights live, and how to fetch or find them.

A reference is either a Hugging Face repo id (``owner/name``) or a local path (a directory laid out like the
repo, or for single-file models the file itself). Each backend names the files it loads as *required groups*:
one entry per file, listing acceptable alternatives in order of preference (``model.safetensors`` before
``pytorch_model.bin``). Fetching downloads only the first alternative that exists upstream, so a repo that
carries both fp32 and fp16 copies costs one download, not two.

Finding weights never touches the network: the hub cache is read with ``try_to_load_from_cache``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

Progress = Callable[[str], None]

# Suffixes that mark a reference as a single weights file rather than a repo id.
_FILE_SUFFIXES = (".pt", ".pth", ".safetensors", ".bin", ".onnx")


class WeightsMissing(FileNotFoundError):
    """The weights are not where the settings say (or not cached yet for a hub id)."""


@dataclass(frozen=True)
class WeightsRef:
    ref: str
    # Each group: alternatives for one file, relative to the repo root, preferred first.
    required: tuple[tuple[str, ...], ...]
    # Small optional files (configs, tokenizer) fetched alongside when they exist upstream.
    extras: tuple[str, ...] = ()
    cache_dir: Path | None = None

    @property
    def is_local(self) -> bool:
        """A path that exists, or that is written like a path, is local; anything else is a hub id."""
        ref = self.ref
        if Path(ref).expanduser().exists():
            return True
        return ref.startswith(("/", "./", "../", "~")) or ref.endswith(_FILE_SUFFIXES) or ref.count("/") != 1

    @property
    def local_path(self) -> Path:
        return Path(self.ref).expanduser()

    def describe(self) -> str:
        return str(self.local_path) if self.is_local else f"{self.ref} (Hugging Face)"

    # --- offline checks -------------------------------------------------------------------------------------
    def missing_files(self) -> list[str]:
        """Required files not available locally (one name per unsatisfied group). No network."""
        if self.is_local:
            path = self.local_path
            if path.is_file():
                return []
            return [group[0] for group in self.required if not any((path / alt).is_file() for alt in group)]
        return [group[0] for group in self.required if self._cached(group) is None]

    def is_present(self) -> bool:
        return not self.missing_files()

    def locate(self) -> Path:
        """The local directory (or file) holding the weights, without any network access."""
        missing = self.missing_files()
        if missing:
            hint = "" if self.is_local else " Run `atelier models download` first."
            raise WeightsMissing(f"{self.describe()}: missing {', '.join(missing)}.{hint}")
        if self.is_local:
            return self.local_path
        hit = self._cached(self.required[0])
        assert hit is not None
        name, path = hit
        # The cache path is <snapshot>/<relative name>; climb back up to the snapshot folder.
        return path.parents[len(Path(name).parts) - 1]

    def materialize(self) -> Path:
        """For factories: the cached or local weights; a hub id not cached yet is downloaded once, logged."""
        if self.is_local or self.is_present():
            return self.locate()
        log = structlog.get_logger(__name__)
        log.warning("weights not cached, downloading", ref=self.ref)
        try:
            return self.fetch(lambda line: log.info("weights", detail=line))
        except WeightsMissing:
            raise
        except Exception as exc:  # offline worker, unknown repo, gated repo...
            raise WeightsMissing(
                f"{self.describe()}: not cached and could not be downloaded ({exc}). "
                "Run `atelier models download` where the hub is reachable, or set a local path."
            ) from exc

    # --- network -------------------------------------------------------------------------------------------
    def fetch(self, progress: Progress | None = None) -> Path:
        """Download what is missing (hub ids) or check the files exist (local paths); returns ``locate()``."""
        say = progress or (lambda _line: None)
        if self.is_local:
            say(f"checking {self.local_path}")
            return self.locate()
        from huggingface_hub import snapshot_download

        say(f"downloading {self.ref}")
        first_choice = [group[0] for group in self.required]
        snapshot_download(self.ref, allow_patterns=first_choice + list(self.extras), cache_dir=self.cache_dir)
        for group in self.required:
            for alternative in group[1:]:
                if self._cached(group) is not None:
                    break
                say(f"{self.ref}: {group[0]} not published, trying {alternative}")
                snapshot_download(self.ref, allow_patterns=[alternative], cache_dir=self.cache_dir)
        return self.locate()

    def _cached(self, group: tuple[str, ...]) -> tuple[str, Path] | None:
        """(name, cached path) of the first alternative in the hub cache, or None."""
        from huggingface_hub import try_to_load_from_cache

        for alternative in group:
            hit = try_to_load_from_cache(self.ref, alternative, cache_dir=self.cache_dir)
            if isinstance(hit, str):
                return alternative, Path(hit)
        return None


def first_existing(root: Path, *names: str) -> str | None:
    """The first of ``names`` present under ``root`` (used to pick a weights variant after locating)."""
    return next((name for name in names if (root / name).is_file()), None)
