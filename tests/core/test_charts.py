from django.template import Context, Template


def render(bars, **kwargs):
    args = " ".join(f"{k}={v!r}" for k, v in kwargs.items())
    template = Template("{% load charts %}{% bar_chart bars " + args + " %}")
    return template.render(Context({"bars": bars}))


def test_bars_scale_to_the_maximum_and_show_their_values():
    html = render([("Vision", 10), ("Effort", 5)], title="Scores", maximum=10)
    assert 'aria-label="Scores"' in html
    assert html.count("<rect") == 2
    assert 'width="360.0" height="22" class="bar" data-value="10"' in html
    assert 'width="180.0" height="22" class="bar" data-value="5"' in html
    assert "style=" not in html  # the CSP forbids inline styles
    # The values as text too: a screen reader reads only the name of a role=img.
    assert '<ul class="visually-hidden"><li>Vision: 10</li><li>Effort: 5</li></ul>' in html


def test_empty_and_all_zero_charts_render_without_dividing_by_zero():
    assert "<rect" not in render([])
    assert 'width="0"' in render([("Closed", 0)])
