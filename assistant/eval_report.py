"""What `assistant eval` writes: a Markdown report, an SVG plot, and the per-question rows as JSON.

The plot is drawn as plain SVG (a few rectangles, circles and labels): no plotting library to install
for one figure, and it shows on GitHub and in any browser.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from assistant.evaluation import EvalReport, KindScore, QuestionResult, VariantSummary

PLOT_FILE, MARKDOWN_FILE, JSON_FILE = "eval.svg", "report.md", "results.json"
_COLOURS = {"right": "#2e7d32", "wrong": "#c62828", "wrongly declined": "#9e9e9e"}


def write_report(report: EvalReport, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / MARKDOWN_FILE, folder / PLOT_FILE, folder / JSON_FILE]
    paths[0].write_text(markdown(report), encoding="utf-8")
    paths[1].write_text(svg(report), encoding="utf-8")
    paths[2].write_text(report.model_dump_json(indent=2), encoding="utf-8")
    return paths


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.1f} %)" if whole else "–"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} s"


def summary_rows(variants: list[VariantSummary]) -> list[tuple[str, list[str]]]:
    """The headline table: one row per measure, one column per variant."""
    def kind(v: VariantSummary, name: str) -> KindScore:
        return v.by_kind.get(name, KindScore())

    return [
        ("writer", [v.writer for v in variants]),
        ("answerable: right, gold cited", [_share(v.answerable.right, v.answerable.total) for v in variants]),
        ("answerable: wrongly declined", [_share(v.answerable.declined, v.answerable.total) for v in variants]),
        ("answerable: wrong answer", [_share(v.answerable.wrong, v.answerable.total) for v in variants]),
        ("unanswerable: declined", [_share(v.unanswerable.declined, v.unanswerable.total) for v in variants]),
        ("follow-ups (turns with history): right", [_share(v.follow_ups.right, v.follow_ups.total)
                                                    for v in variants]),
        *[(f"{name}: right", [_share(kind(v, name).right, kind(v, name).total) for v in variants])
          for name in sorted({k for v in variants for k in v.by_kind}) if name != "unanswerable"],
        ("quotes verbatim", [_share(v.quotes_verbatim, v.quotes) for v in variants]),
        ("first token p50", [_seconds(v.first_token_p50) for v in variants]),
        ("total p50 / p90", [f"{_seconds(v.total_p50)} / {_seconds(v.total_p90)}" for v in variants]),
    ]


def markdown(report: EvalReport) -> str:
    variants = report.variants
    lines = [f"# Answer quality: `{report.questions_file}`", "",
             f"{len(report.results) // max(len(variants), 1)} questions against an index of "
             f"{report.index_documents} documents; run {report.started_at}, {report.seconds:.0f} s in all. "
             "Answerable: right when an accepted answer appears in the answer or its quotes and a cited source is "
             "a support file. Unanswerable: right when declined.", "",
             "| measure | " + " | ".join(f"`{v.label}`" for v in variants) + " |",
             "| --- |" + " --- |" * len(variants)]
    lines += [f"| {name} | " + " | ".join(values) + " |" for name, values in summary_rows(variants)]
    lines += ["", f"![right, wrong and declined by kind; seconds per question]({PLOT_FILE})", ""]
    for v in variants:
        lines += [f"## `{v.label}`", "", f"Settings changed: {v.overrides or 'none'}; writer {v.writer}.", "",
                  "| kind | questions | right | wrong | declined |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| {name} | {s.total} | {s.right} | {s.wrong} | {s.declined} |" for name, s in sorted(v.by_kind.items())]
        misses = [r for r in report.results if r.variant == v.label and not r.right]
        if misses:
            lines += ["", "Not right:", "", "| id | kind | what happened | answer |", "| --- | --- | --- | --- |"]
            lines += [f"| {r.id} | {r.kind} | {_what_happened(r)} | {_cell(r.answer)} |" for r in misses]
        lines.append("")
    return "\n".join(lines)


def _what_happened(r: QuestionResult) -> str:
    if not r.answerable:
        return f"answered ({r.resolution})"
    if r.declined:
        return f"declined ({r.resolution})"
    return ", ".join(filter(None, ["answer not found" if not r.answer_found else "",
                                   "gold not cited" if not r.gold_cited else ""])) + f" ({r.resolution})"


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def svg(report: EvalReport) -> str:
    """Left: right / wrong / declined per kind and variant, as shares. Right: each question's seconds."""
    variants = report.variants
    kinds = sorted({k for v in variants for k in v.by_kind})
    row_h, label_w, bar_w, gap = 16, 230, 260, 40
    rows = [(v, k) for v in variants for k in kinds if k in v.by_kind]
    height = 60 + row_h * (len(rows) + len(variants)) + 40
    times = {v.label: [r.timings.get("total_s", 0.0) for r in report.results if r.variant == v.label]
             for v in variants}
    longest = max([t for ts in times.values() for t in ts] + [1.0])
    plot_x = label_w + bar_w + gap + 120
    width = plot_x + 300 + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="18" font-size="13" font-weight="bold">Answers by kind</text>',
           f'<text x="{plot_x - 110}" y="18" font-size="13" font-weight="bold">Seconds per question (total)</text>']
    for i, name in enumerate(_COLOURS):
        out.append(f'<rect x="{10 + i * 90}" y="28" width="10" height="10" fill="{_COLOURS[name]}"/>'
                   f'<text x="{24 + i * 90}" y="37">{name}</text>')
    y = 56
    for v in variants:
        out.append(f'<text x="10" y="{y + 11}" font-weight="bold">{escape(v.label)}</text>')
        out.append(_latency_strip(times[v.label], v.total_p50, plot_x, y, longest))
        y += row_h
        for k in kinds:
            if k not in v.by_kind:
                continue
            score = v.by_kind[k]
            out.append(f'<text x="20" y="{y + 11}">{escape(k)} ({score.total})</text>')
            x = float(label_w)
            for name in _COLOURS:
                # A declined unanswerable question is right (green); grey is only what was declined wrongly.
                count = {"right": score.right, "wrong": score.wrong,
                         "wrongly declined": score.total - score.right - score.wrong}[name]
                w = bar_w * count / score.total if score.total else 0
                if w:
                    out.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{row_h - 4}" '
                               f'fill="{_COLOURS[name]}"><title>{name}: {count}</title></rect>')
                x += w
            y += row_h
    axis_y = y + 8
    out.append(f'<line x1="{plot_x}" y1="{axis_y}" x2="{plot_x + 300}" y2="{axis_y}" stroke="black"/>')
    for tick in range(0, 6):
        value = longest * tick / 5
        tx = plot_x + 300 * tick / 5
        out.append(f'<line x1="{tx:.1f}" y1="{axis_y}" x2="{tx:.1f}" y2="{axis_y + 4}" stroke="black"/>'
                   f'<text x="{tx:.1f}" y="{axis_y + 16}" text-anchor="middle">{value:.1f}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _latency_strip(seconds: list[float], p50: float | None, x0: int, y: int, longest: float) -> str:
    dots = [f'<circle cx="{x0 + 300 * s / longest:.1f}" cy="{y + 8}" r="2.5" fill="#1565c0" fill-opacity="0.4"/>'
            for s in seconds]
    if p50 is not None:
        mx = x0 + 300 * p50 / longest
        dots.append(f'<line x1="{mx:.1f}" y1="{y}" x2="{mx:.1f}" y2="{y + 16}" stroke="black" stroke-width="2">'
                    f'<title>median {p50:.2f} s</title></line>')
    return "".join(dots)
