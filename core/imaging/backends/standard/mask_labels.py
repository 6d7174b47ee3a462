"""Which class names mean "this face wears a mask", for detectors and classifiers alike.

Published face-mask models name their classes every which way: ``WithMask``/``WithoutMask``,
``with_mask``/``without_mask``/``mask_weared_incorrect``, ``Mask``/``No Mask``, ``face``/``face_mask``.
A naive "contains 'mask'" test calls ``WithoutMask`` and ``No Mask`` masked, so the rule is explicit: a name
is masked when it mentions a mask and carries no negation. A mask worn incorrectly is still a mask to remove.
Operators with unusual names list them in ``ModelSettings.masked_labels`` and the rule is not used.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

_NEGATIONS = {"no", "not", "without", "unmasked", "nomask", "withoutmask", "bare"}


def _words(name: str) -> list[str]:
    # "WithoutMask" -> "Without Mask", "face_mask" -> "face mask", then lower-case words.
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)
    return [word for word in re.split(r"[^a-z0-9]+", spaced.lower()) if word]


def is_masked_name(name: str) -> bool:
    words = _words(name)
    return any("mask" in word for word in words) and not any(word in _NEGATIONS for word in words)


def masked_ids(names: Mapping[int, str], explicit: Collection[str] = ()) -> frozenset[int]:
    """Ids of the classes meaning "masked": exactly ``explicit`` if given (any case), else by the rule."""
    if explicit:
        wanted = {name.casefold() for name in explicit}
        unknown = wanted - {name.casefold() for name in names.values()}
        if unknown:
            raise ValueError(
                f"masked labels {sorted(unknown)} are not among the model's {sorted(names.values())}"
            )
        return frozenset(i for i, name in names.items() if name.casefold() in wanted)
    return frozenset(i for i, name in names.items() if is_masked_name(name))
