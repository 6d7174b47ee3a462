"""Whether this service can answer /sketch: a leaf module the bot process reads (no model library).

The standard and tiny tiers always can. The offline tier has no face generator of its own: it draws faces
only with the face prior (``ATELIER_MODELS__FACE_PRIOR=stylegan``, non-commercial weights) switched on;
without it /sketch says so and /help does not offer it, rather than answer with a toy.
"""

from __future__ import annotations

from core.config import ModelSettings


def can_draw_faces(models: ModelSettings) -> bool:
    return models.tier != "offline" or models.face_prior == "stylegan"
