"""Masked / unmasked class names as published face-mask models spell them."""

from __future__ import annotations

import pytest

from core.imaging.backends.standard.mask_labels import is_masked_name, masked_ids


@pytest.mark.parametrize(
    "name",
    ["WithMask", "with_mask", "Mask", "face_mask", "face-mask", "masked", "mask_weared_incorrect", "Masks"],
)
def test_masked_names(name: str) -> None:
    assert is_masked_name(name)


@pytest.mark.parametrize(
    "name",
    ["WithoutMask", "without_mask", "No Mask", "no_mask", "NoMask", "unmasked", "face", "FACE", "person"],
)
def test_unmasked_names(name: str) -> None:
    assert not is_masked_name(name)


def test_label_sets_of_published_models() -> None:
    assert masked_ids({0: "WithMask", 1: "WithoutMask"}) == {0}
    # "No Mask" contains "mask": the trap a substring test falls into.
    assert masked_ids({0: "No Mask", 1: "Mask"}) == {1}
    assert masked_ids({0: "with_mask", 1: "without_mask", 2: "mask_weared_incorrect"}) == {0, 2}
    assert masked_ids({0: "FACE"}) == frozenset()


def test_explicit_labels_replace_the_rule() -> None:
    assert masked_ids({0: "covered", 1: "bare"}, explicit=["Covered"]) == {0}
    with pytest.raises(ValueError, match="not among"):
        masked_ids({0: "covered", 1: "bare"}, explicit=["masked"])
