"""Charts as inline SVG drawn on the server: no script, no CDN, nothing the Content-Security-Policy
(``script-src 'self'``, ``style-src 'self'``) forbids. Only SVG presentation attributes, never a
``style`` attribute; text is escaped. Chinese labels use the page's fonts (WenQuanYi Zen Hei on Debian).
"""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ["#1f6feb", "#2da44e", "#d29922", "#cf222e", "#8250df", "#0598bc", "#bf3989", "#57606a"]
FONT = "WenQuanYi Zen Hei, Noto Sans CJK SC, sans-serif"


def _svg(width: int, height: int, body: list[str], title: str) -> SafeString:
    # Every piece of text in ``body`` and ``title`` went through escape(); numbers are formatted.
    return mark_safe(  # noqa: S308
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}" font-family="{FONT}" font-size="13">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def hbar_chart(*, title: str, rows: list[tuple[str, float, str]], width: int = 720) -> SafeString:
    """Horizontal bars: (label, value, note shown after the value), e.g. a funnel."""
    label_w, row_h, pad = 130, 30, 8
    height = pad * 2 + row_h * max(len(rows), 1)
    top = max((value for _l, value, _n in rows), default=0) or 1
    bar_w = width - label_w - 170
    body = []
    for i, (label, value, note) in enumerate(rows):
        y = pad + i * row_h
        w = max(bar_w * value / top, 1 if value else 0)
        body.append(
            f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end" fill="#24292f">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" rx="3" '
            f'fill="{PALETTE[0]}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 19}" fill="#24292f">{_fmt(value)}'
            f"{escape(' ' + note if note else '')}</text>"
        )
    return _svg(width, height, body, title)


def grouped_bar_chart(
    *,
    title: str,
    categories: list[str],
    series: list[tuple[str, list[float]]],
    width: int = 720,
    height: int = 260,
    stacked: bool = False,
) -> SafeString:
    """Vertical bars per category (e.g. month), one colour per series, with a legend."""
    left, right, top_pad, bottom = 56, 12, 30, 44
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    if stacked:
        peak = max((sum(vals[i] for _n, vals in series) for i in range(len(categories))), default=0)
    else:
        peak = max((v for _n, vals in series for v in vals), default=0)
    peak = peak or 1
    body = []
    for step in range(5):
        value = peak * step / 4
        y = top_pad + plot_h - plot_h * step / 4
        body.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#57606a" '
            f'font-size="11">{_fmt(value)}</text>'
        )
    slot = plot_w / max(len(categories), 1)
    group_w = slot * 0.75
    bar_w = group_w if stacked else group_w / max(len(series), 1)
    for i, category in enumerate(categories):
        x0 = left + i * slot + (slot - group_w) / 2
        base = top_pad + plot_h
        for s, (_name, values) in enumerate(series):
            h = plot_h * values[i] / peak
            x = x0 if stacked else x0 + s * bar_w
            y = base - h
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bar_w - 1, 1):.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(category)} · '
                f"{escape(_name)}: {_fmt(values[i])}</title></rect>"
            )
            if stacked:
                base = y
        if len(categories) <= 14 or i % 2 == 0:
            body.append(
                f'<text x="{x0 + group_w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                f'fill="#57606a" font-size="11">{escape(category)}</text>'
            )
    x = left
    for s, (name, _values) in enumerate(series):
        body.append(
            f'<rect x="{x}" y="8" width="12" height="12" fill="{PALETTE[s % len(PALETTE)]}"/>'
            f'<text x="{x + 16}" y="19" fill="#24292f">{escape(name)}</text>'
        )
        x += 28 + 14 * len(name)
    return _svg(width, height, body, title)
