"""The torso's own frame, from the pose joints: where the collar line, the shoulders' tips, the armpits and
the torso's sides lie on a person, in shoulder widths (the distance between the shoulder joints is the one
length pose finds reliably on every photo). The offline body parser draws the old top with it, and
``garment_fit`` places the new one with it.
"""

from __future__ import annotations

import numpy as np

from core.imaging.backends.base import Body, BodyPoints

# Shapes in shoulder widths, measured on the test people: the collar line runs this high above the shoulder
# joints at the neck's sides (this far from the middle) and at the shoulders' tips,
NECK_RISE = 0.16
NECK_HALF_WIDTH = 0.17
SHOULDER_RISE = 0.1
# the torso's outline lies this far outside the shoulder joints (and, in hip widths, the hip joints),
SHOULDER_OUT = 0.08
HIP_OUT = 0.3
# and the armpits lie this far below the shoulder joints.
ARMPIT_DROP = 0.35
# A measured torso side lies at least this share of the drawn outline's half width from the middle, and at
# most this far (shoulder widths) beyond it (further, it ran into an arm).
_SIDE_MIN = 0.75
_SIDE_SLACK = 0.05


class TorsoFrame:
    """The torso's own axes: ``across`` from the right shoulder joint (image left in a frontal photo) to the
    left one, ``up`` from the hips' middle to the shoulders' middle; ``unit`` = one shoulder width (px)."""

    def __init__(self, points: BodyPoints) -> None:
        self.right_shoulder = np.asarray(points["right_shoulder"], np.float32)
        self.left_shoulder = np.asarray(points["left_shoulder"], np.float32)
        self.right_hip = np.asarray(points["right_hip"], np.float32)
        self.left_hip = np.asarray(points["left_hip"], np.float32)
        span = self.left_shoulder - self.right_shoulder
        self.unit = max(1.0, float(np.hypot(*span)))
        self.across = span / self.unit
        up = (self.right_shoulder + self.left_shoulder - self.right_hip - self.left_hip) / 2
        self.up = (up / max(1e-6, float(np.hypot(*up)))).astype(np.float32)
        self.middle = (self.right_shoulder + self.left_shoulder) / 2
        self.hips_middle = (self.right_hip + self.left_hip) / 2
        self.hip_width = float(np.hypot(*(self.left_hip - self.right_hip)))

    def shoulder_tips(self) -> tuple[np.ndarray, np.ndarray]:
        u, a, up = self.unit, self.across, self.up
        return (
            self.right_shoulder - a * SHOULDER_OUT * u + up * SHOULDER_RISE * u,
            self.left_shoulder + a * SHOULDER_OUT * u + up * SHOULDER_RISE * u,
        )

    def on_shoulder_line(self, offset: float) -> np.ndarray:
        """The point of the collar line ``offset`` px across from the middle (negative: the right side):
        level at the neck, falling to the shoulder's tip, continued straight beyond it."""
        u, a, up = self.unit, self.across, self.up
        neck, tip = NECK_HALF_WIDTH * u, (0.5 + SHOULDER_OUT) * u
        rise = (
            NECK_RISE
            if abs(offset) <= neck
            else np.interp(abs(offset), [neck, tip], [NECK_RISE, SHOULDER_RISE])
        )
        if abs(offset) > tip:
            rise = SHOULDER_RISE - (abs(offset) - tip) / (tip - neck) * (NECK_RISE - SHOULDER_RISE)
        return np.asarray(self.middle + a * offset + up * float(rise) * u, np.float32)

    def collar_line(self) -> np.ndarray:
        """From far beyond the right shoulder's tip, over both sides of the neck, to far beyond the left."""
        u, a = self.unit, self.across
        right, left = self.shoulder_tips()
        far = 10.0 * u
        neck = [self.on_shoulder_line(side * NECK_HALF_WIDTH * u) for side in (-1, 1)]
        return np.array([right - a * far, right, neck[0], neck[1], left, left + a * far], np.float32)

    def torso_polygon(self) -> np.ndarray:
        a = self.across
        right, left = self.shoulder_tips()
        out = HIP_OUT * self.hip_width
        return np.array([right, left, self.left_hip + a * out, self.right_hip - a * out], np.float32)

    def core_polygon(self) -> np.ndarray:
        """Between the four joints: an arm inside it is across the torso, not beside it."""
        return np.array([self.right_shoulder, self.left_shoulder, self.left_hip, self.right_hip], np.float32)

    def below_collar(self, shape: tuple[int, int]) -> np.ndarray:
        """Everything on the body's side of the collar line."""
        line = self.collar_line()
        far = 10.0 * self.unit
        return fill(shape, [np.concatenate([line, [line[-1] - self.up * far, line[0] - self.up * far]])])

    def below(self, drop: float, shape: tuple[int, int]) -> np.ndarray:
        """The side of the shoulder line moved ``drop`` shoulder widths down the torso that holds the hips."""
        u, a, far = self.unit, self.across, 10.0 * self.unit
        start = self.right_shoulder - self.up * drop * u - a * far
        end = self.left_shoulder - self.up * drop * u + a * far
        return fill(shape, [np.array([start, end, end - self.up * far, start - self.up * far], np.float32)])


class TorsoSides:
    """The torso's left and right edges at a given depth below the shoulders' tips: the person's outline
    (a forearm or hand in front ends the torso there), held near the drawn torso outline, so that an arm
    hanging against the torso does not widen it and one across it does not narrow it much."""

    def __init__(self, body: Body, frame: TorsoFrame) -> None:
        self.frame = frame
        self.inside = (np.asarray(body.person) > 127) & ~(np.asarray(body.keep) > 127)
        tips = frame.shoulder_tips()
        self.top = (tips[0] + tips[1]) / 2
        self.armpit_drop = (SHOULDER_RISE + ARMPIT_DROP) * frame.unit
        self.hips_drop = float(np.dot(self.top - frame.hips_middle, frame.up))

    def drawn(self, drop: float) -> float:
        """Half the drawn torso outline's width at ``drop``: the shoulders' tips down to the hips' outline."""
        frame = self.frame
        tip = (0.5 + SHOULDER_OUT) * frame.unit
        hips = (0.5 + HIP_OUT) * frame.hip_width
        return float(np.interp(drop, [0.0, max(1.0, self.hips_drop)], [tip, hips]))

    def at(self, drop: float) -> tuple[np.ndarray, np.ndarray]:
        right, left = self.between(drop, drop, np.zeros(1))
        return right[0], left[0]

    def between(self, top: float, bottom: float, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, 2) points of the right and the left side at ``steps`` (0..1) from depth ``top`` to
        ``bottom``."""
        frame = self.frame
        height, width = self.inside.shape
        reach = np.arange(0.0, 1.5 * frame.unit, 1.0, dtype=np.float32)
        found: list[list[np.ndarray]] = [[], []]
        for drop in top + (bottom - top) * np.asarray(steps, np.float32):
            centre = self.top - frame.up * drop
            drawn = self.drawn(float(drop))
            for index, direction in enumerate((-frame.across, frame.across)):
                xy = centre + reach[:, None] * direction
                xs = np.clip(np.round(xy[:, 0]).astype(int), 0, width - 1)
                ys = np.clip(np.round(xy[:, 1]).astype(int), 0, height - 1)
                inside = self.inside[ys, xs] & (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] < height)
                edge = float(np.argmin(inside)) if inside[0] and not inside.all() else drawn
                edge = float(np.clip(edge, _SIDE_MIN * drawn, drawn + _SIDE_SLACK * frame.unit))
                found[index].append(centre + direction * edge)
        return np.array(found[0], np.float32), np.array(found[1], np.float32)


def projected(chain: np.ndarray, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arc length along ``chain`` of each pixel's nearest point on it, and the pixel's distance to it."""
    if len(chain) < 2 or not len(pixels):
        return np.zeros(len(pixels), np.float32), np.full(len(pixels), np.inf, np.float32)
    best_arc = np.zeros(len(pixels), np.float32)
    best_distance = np.full(len(pixels), np.inf, np.float32)
    done = 0.0
    for start, end in zip(chain[:-1], chain[1:], strict=True):
        segment = end - start
        length = max(1e-6, float(np.hypot(*segment)))
        t = np.clip((pixels - start) @ segment / length**2, 0.0, 1.0)
        distance = np.hypot(*(pixels - start - t[:, None] * segment).T)
        closer = distance < best_distance
        best_arc[closer] = done + t[closer] * length
        best_distance[closer] = distance[closer]
        done += length
    return best_arc, best_distance


def along(path: np.ndarray, distance: float) -> tuple[np.ndarray, np.ndarray]:
    """The point ``distance`` px along a polyline (its end beyond it) and the direction there."""
    segments = np.diff(path, axis=0)
    lengths = np.maximum(np.hypot(segments[:, 0], segments[:, 1]), 1e-6)
    for start, segment, length in zip(path[:-1], segments, lengths, strict=True):
        if distance <= length:
            return start + segment * (distance / length), segment / length
        distance -= float(length)
    return path[-1] + segments[-1] / lengths[-1] * distance, segments[-1] / lengths[-1]


def fill(shape: tuple[int, int], polygons: list[np.ndarray]) -> np.ndarray:
    """(H, W) bool: the polygons filled (sub-pixel vertices)."""
    import cv2

    canvas = np.zeros(shape, np.uint8)
    cv2.fillPoly(
        canvas, [np.round(np.asarray(p) * 4).astype(np.int32) for p in polygons], 1, cv2.LINE_8, shift=2
    )
    return canvas > 0
