"""Charts drawn on the server as SVG: no chart library, no script, nothing the CSP blocks
(SVG presentation attributes are not inline styles)."""

from django import template

register = template.Library()

BAR_HEIGHT = 22
BAR_GAP = 8
LABEL_WIDTH = 140
CHART_WIDTH = 560


@register.inclusion_tag("core/bar_chart.html")
def bar_chart(bars, *, title: str = "", maximum=None, unit: str = ""):
    """Horizontal bars. `bars`: iterable of (label, value); `maximum`: the value of a full bar
    (default: the largest value). Usage: {% bar_chart rows title="By category" maximum=10 %}"""
    bars = [(str(label), value or 0) for label, value in bars]
    top = maximum if maximum is not None else max((value for _, value in bars), default=0)
    span = CHART_WIDTH - LABEL_WIDTH - 60
    rows = []
    for index, (label, value) in enumerate(bars):
        rows.append(
            {
                "label": label,
                "value": value,
                "y": index * (BAR_HEIGHT + BAR_GAP),
                "text_y": index * (BAR_HEIGHT + BAR_GAP) + BAR_HEIGHT * 0.7,
                "width": round(span * value / top, 1) if top else 0,
            }
        )
    return {
        "title": title,
        "unit": unit,
        "rows": rows,
        "bar_height": BAR_HEIGHT,
        "label_width": LABEL_WIDTH,
        "value_x_offset": LABEL_WIDTH + 6,
        "width": CHART_WIDTH,
        "height": max(1, len(rows)) * (BAR_HEIGHT + BAR_GAP),
    }
