"""The CLIP tokenizer built from open_clip's bundled vocabulary gives CLIP's own ids."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from core.imaging.backends.tiny.clip_vocab import VOCAB_SIZE, bytes_to_unicode, clip_tokenizer, vocab_path


def test_known_phrase_gives_clip_ids() -> None:
    tokenizer = clip_tokenizer()
    assert tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]


def test_vocabulary_and_special_tokens_match_sd_tokenizer() -> None:
    tokenizer = clip_tokenizer()
    assert len(tokenizer) == VOCAB_SIZE == 49408
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id) == (49406, 49407, 49407)
    padded = tokenizer("A Photo", padding="max_length", max_length=77, truncation=True).input_ids
    # Lower-cased like CLIP; padded with end-of-text to SD's 77 positions.
    assert padded[:4] == [49406, 320, 1125, 49407] and padded[4:] == [49407] * 73


def test_byte_map_is_a_bijection_over_all_bytes() -> None:
    mapping = bytes_to_unicode()
    assert sorted(mapping) == list(range(256))
    assert len(set(mapping.values())) == 256


def test_vocabulary_file_is_read_without_importing_open_clip() -> None:
    assert vocab_path().name == "bpe_simple_vocab_16e6.txt.gz"
    # A fresh interpreter: importing open_clip would drag in torchvision and timm.
    code = (
        "import sys\n"
        "from core.imaging.backends.tiny.clip_vocab import clip_vocabulary\n"
        "vocab, merges = clip_vocabulary()\n"
        "assert len(vocab) == 49408 and len(merges) == 48894, (len(vocab), len(merges))\n"
        "assert 'open_clip' not in sys.modules and 'torch' not in sys.modules\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2], timeout=60
    )
