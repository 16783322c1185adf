"""axe-core (npm, copied to app/static/vendor/axe-core/ by ``make assets``) run inside a Playwright page.

The script is added by URL from the app's own static files, so the page's strict Content-Security-Policy
(script files from 'self' only) allows it exactly as it allows the app's scripts: nothing is relaxed for
the test. Findings keep axe's impact (critical, serious, moderate, minor), the rule id and the first
targets, so a failing assertion names the page, the rule and the element."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from parts import add_part

VENDORED = Path(__file__).resolve().parents[1] / "app" / "static" / "vendor" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
"""WCAG 2.2 A/AA plus axe's best practices (landmarks, headings): what a county's accessibility review asks."""
BLOCKING = ("critical", "serious")
MENU_OPEN = " (menu open)"
"""Suffix of a phone page audited again with its folded menu opened (not a page of its own)."""

RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return result.violations.map(v => ({rule: v.id, impact: v.impact || 'minor', help: v.help,
    nodes: v.nodes.length, targets: v.nodes.slice(0, 4).map(n => n.target.join(' ') + ' :: ' +
      (n.failureSummary || '').split('\\n').slice(1, 2).join('').trim().slice(0, 160))}));
}"""


@dataclass
class PageFindings:
    user: str
    width: int
    path: str
    violations: list[dict[str, Any]] = field(default_factory=list)

    def impacts(self) -> Counter[str]:
        return Counter({impact: sum(v["nodes"] for v in self.violations if v["impact"] == impact)
                        for impact in ("critical", "serious", "moderate", "minor")})

    def blocking(self) -> list[str]:
        return [f"{self.user} {self.width}px {self.path}: {v['impact']} {v['rule']} ({v['help']}) at {v['targets']}"
                for v in self.violations if v["impact"] in BLOCKING]


def audit(page: Any, user: str, width: int, path: str) -> PageFindings:
    """Run axe on the page as it is now (loaded, scripts settled) and return its findings."""
    assert VENDORED.exists(), f"{VENDORED} is missing: run `make assets` (axe-core comes from npm)"
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")
    return PageFindings(user, width, path, page.evaluate(RUN, TAGS))


def write_report(findings: list[PageFindings], out: Path, part: str | None = None) -> dict[str, Any]:
    """test-output/a11y/findings.json (every finding) and summary.txt (per page and in total).

    With ``part`` (the walk split into tests, on several xdist workers): the files hold every part this
    run wrote so far (tests/parts.py). Returns the summary of ``findings`` alone."""
    out.mkdir(parents=True, exist_ok=True)
    if part is None:
        _write(findings, out)
    else:
        add_part(out, part, [asdict(f) for f in findings],
                 lambda parts: _write([PageFindings(**f) for _, value in parts for f in value], out))
    return _summary(findings)


def _summary(findings: list[PageFindings]) -> dict[str, Any]:
    total: Counter[str] = Counter()
    for f in findings:
        total.update(f.impacts())
    return {"pages": len({(f.user, f.path) for f in findings if not f.path.endswith(MENU_OPEN)}),
            "page_views": len(findings), **total}


def _write(findings: list[PageFindings], out: Path) -> None:
    lines = []
    for f in findings:
        counts = f.impacts()
        lines.append(f"{f.user:20} {f.width:5} {f.path:70} " +
                     " ".join(f"{k}={counts[k]}" for k in ("critical", "serious", "moderate", "minor")))
    lines.append(json.dumps(_summary(findings)))
    (out / "summary.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "findings.json").write_text(json.dumps([asdict(f) for f in findings], ensure_ascii=False, indent=1),
                                       encoding="utf-8")
