"""The calibration curve (reliability diagram) as a small stand-alone SVG, for docs/matching.md.

Written by ``manage.py fit_calibration --curve PATH`` from the out-of-fold scores; plain SVG, so the
picture needs no plotting library and is byte-for-byte reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 420, 420
LEFT, TOP, SIZE = 60, 30, 320


def _xy(score: float, share: float) -> tuple[float, float]:
    return LEFT + score * SIZE, TOP + (1 - share) * SIZE


def reliability_svg(curve: Sequence[dict], *, threshold: float, title: str, note: str = "") -> str:
    """``curve``: ``calibration_fit.calibration_curve`` rows (mean score, share relevant, n)."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT + 20}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT + 20}" font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH}" height="{HEIGHT + 20}" fill="white"/>',
        f'<text x="{LEFT}" y="18" font-size="13">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{TOP}" width="{SIZE}" height="{SIZE}" fill="none" stroke="#999"/>',
    ]
    for tick in range(0, 11, 2):
        v = tick / 10
        x, y = _xy(v, v)
        parts.append(f'<text x="{x:.1f}" y="{TOP + SIZE + 14}" text-anchor="middle">{v:.1f}</text>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{v:.1f}</text>')
    x0, y0 = _xy(0, 0)
    x1, y1 = _xy(1, 1)
    parts.append(
        f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="#bbb" stroke-dasharray="4 3"/>'
    )
    tx, _ = _xy(threshold, 0)
    parts.append(
        f'<line x1="{tx:.1f}" y1="{TOP}" x2="{tx:.1f}" y2="{TOP + SIZE}" stroke="#d9822b" '
        'stroke-dasharray="2 2"/>'
    )
    parts.append(
        f'<text x="{tx + 4:.1f}" y="{TOP + 12}" fill="#d9822b">email threshold {threshold:.2f}</text>'
    )
    points = [_xy(row["mean_score"], row["share_relevant"]) for row in curve]
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#2e7d32" stroke-width="2"/>')
    total = sum(row["n"] for row in curve) or 1
    for (x, y), row in zip(points, curve, strict=True):
        radius = 2.5 + 9 * (row["n"] / total) ** 0.5
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" fill="#2e7d32" opacity="0.7"/>'
        )
    parts.append(
        f'<text x="{LEFT + SIZE / 2}" y="{TOP + SIZE + 30}" text-anchor="middle">'
        "calibrated score (mean per bin)</text>"
    )
    parts.append(
        f'<text transform="translate(16 {TOP + SIZE / 2}) rotate(-90)" text-anchor="middle">'
        "share of pairs relevant</text>"
    )
    if note:
        parts.append(f'<text x="{LEFT}" y="{HEIGHT + 12}" fill="#555">{escape(note)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
