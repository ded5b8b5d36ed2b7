"""The urgency colours stay distinguishable for colour-blind viewers: simulated deuteranopia
and protanopia (Machado et al. 2009, severity 1) keep every pair far apart in CIE Lab."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from dashboard.core.domain import URGENCY_STYLE

SIMULATIONS = {
    "normal": np.eye(3),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
}
MIN_DELTA_E = 30  # CIE76; ~2.3 is "just noticeable", 30+ is a different colour at a glance


def linear_rgb(hex_colour: str) -> np.ndarray:
    c = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def lab(rgb_linear: np.ndarray) -> np.ndarray:
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ rgb_linear / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


@pytest.mark.parametrize("vision", SIMULATIONS)
def test_urgency_colours_stay_apart(vision):
    m = SIMULATIONS[vision]
    seen = {u: lab(np.clip(m @ linear_rgb(s["color"]), 0, 1)) for u, s in URGENCY_STYLE.items()}
    for a, b in itertools.combinations(seen, 2):
        delta = float(np.linalg.norm(seen[a] - seen[b]))
        assert delta >= MIN_DELTA_E, f"{vision}: {a} and {b} only ΔE {delta:.1f} apart"


def test_the_old_palette_would_fail():
    # the check can fail: red #ff3b30 and green #34c759 are only ~20 apart under deuteranopia
    m = SIMULATIONS["deuteranopia"]
    red, green = (lab(np.clip(m @ linear_rgb(c), 0, 1)) for c in ("#ff3b30", "#34c759"))
    assert float(np.linalg.norm(red - green)) < MIN_DELTA_E


def test_every_urgency_has_its_own_shape():
    assert len({s["shape"] for s in URGENCY_STYLE.values()}) == len(URGENCY_STYLE)
