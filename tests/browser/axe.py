"""axe-core (the copy bundled with axe-playwright-python) run on a Playwright page against
WCAG 2.1 A and AA; `assert_accessible` fails listing every serious or critical violation.

axe is injected with `page.evaluate`, which goes through the DevTools protocol: the page's
Content-Security-Policy (script-src 'self', no inline script, no eval) does not apply to it,
so the pages are checked with their real CSP and no `bypass_csp` is needed.
"""

from axe_playwright_python.sync_playwright import Axe

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING_IMPACTS = {"serious", "critical"}

_axe = Axe()


def axe_violations(page) -> list[dict]:
    """The serious and critical WCAG 2.1 A/AA violations on the page as it is now."""
    results = _axe.run(
        page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}, "resultTypes": []}
    )
    return [v for v in results.response["violations"] if v["impact"] in FAILING_IMPACTS]


def describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            lines.append(f"  at {', '.join(map(str, node['target']))}: {node['html'][:160]}")
            lines.append(f"    {node.get('failureSummary', '').replace(chr(10), ' ')}")
    return "\n".join(lines)


def assert_accessible(page, where: str) -> None:
    """Fail with a readable list if axe finds serious or critical violations on the page."""
    violations = axe_violations(page)
    assert not violations, f"{where}: {len(violations)} WCAG 2.1 AA violation(s)\n" + describe(
        violations
    )
