"""The real CLIP BPE tokenizer, built offline from the vocabulary file that ships in open-clip-torch's wheel.

diffusers and transformers ship no tokenizer files, and hub downloads are not available to tests. open_clip's
``bpe_simple_vocab_16e6.txt.gz`` holds CLIP's 48,894 merges; the 49,408-token vocabulary is derived from them
exactly as CLIP does (256 byte symbols, the same with ``</w>``, one token per merge, two special tokens), so
the ids equal those of ``openai/clip-vit-large-patch14``'s tokenizer.

The file is found with ``importlib.util.find_spec`` and read directly: ``import open_clip`` would pull in
torchvision and timm for no reason.
"""

from __future__ import annotations

import gzip
import importlib.util
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import CLIPTokenizer

VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
VOCAB_SIZE = 49408
# CLIP uses merges 1 .. 49152-256-2 of the file (line 0 is a version header).
_MERGES_END = 49152 - 256 - 2 + 1


def vocab_path() -> Path:
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "open-clip-torch is not installed; it provides the CLIP vocabulary (pip extra 'ml')"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / VOCAB_FILE
    if not path.is_file():
        raise RuntimeError(f"{VOCAB_FILE} not found in the installed open_clip package ({path.parent})")
    return path


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible map from the 256 byte values to printable unicode characters."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    codes = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {byte: chr(code) for byte, code in zip(printable, codes, strict=True)}


def clip_vocabulary() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """(token -> id, merges) exactly as CLIP builds them."""
    lines = gzip.decompress(vocab_path().read_bytes()).decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1:_MERGES_END]]
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [symbol + "</w>" for symbol in symbols]
    tokens += ["".join(merge) for merge in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    if len(tokens) != VOCAB_SIZE:
        raise RuntimeError(f"unexpected CLIP vocabulary size {len(tokens)} from {vocab_path()}")
    return {token: i for i, token in enumerate(tokens)}, [(a, b) for a, b in merges]


@cache
def clip_tokenizer(max_length: int = 77) -> CLIPTokenizer:
    from transformers import CLIPTokenizer

    vocab, merges = clip_vocabulary()
    # transformers 5 builds the fast tokenizer from in-memory vocab and merges: no files to write.
    # The annotation says list[str], but the tokenizers BPE model takes (left, right) pairs.
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=max_length)  # type: ignore[arg-type]
