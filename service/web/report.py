"""Årsrapport (`/app/report?region=&year=`): the yearly summary of `GET /v1/reports/summary`, computed by
the same code (`service.reports.summarize`), as key figures, bar charts and the same numbers as tables."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiohttp import web
from markupsafe import Markup

from calendars.stockholm import local_date
from service.context import runtime
from service.http.reports import DEVIATION_KINDS, FIRST_YEAR, LAST_YEAR, YearSummary, summarize
from service.web.bar_chart import Bar, bar_chart
from service.web.scope import principal, region_choices
from service.web.templating import render

MONTHS = ("jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec")
MONTH_NAMES = (
    "januari", "februari", "mars", "april", "maj", "juni",
    "juli", "augusti", "september", "oktober", "november", "december",
)  # fmt: skip
DEVIATION_NAMES = {
    "no_response": "Inget svar på kallelse",
    "no_show": "Uteblev från mötet",
    "action_not_done": "Insats inte utförd",
    "late": "Tidsfrist missad",
}
KVA_NAMES = {
    "AUI24": "Upprättande av SIP",
    "AUI25": "Upprättande av SIP efter utskrivning",
    "AW010": "Uppföljning av SIP",
}
_YEAR = re.compile(r"\d{4}", re.ASCII)


@dataclass(frozen=True)
class Chart:
    chart_id: str
    title: str
    svg: Markup
    # The same numbers as a table: the value column's heading and (label, value) rows.
    column: str
    rows: list[tuple[str, int]]

    @property
    def total(self) -> int:
        return sum(value for _, value in self.rows)


def _charts(summary: YearSummary) -> list[Chart]:
    months = summary.months

    def monthly(chart_id: str, title: str, column: str, values: list[int]) -> Chart:
        bars = [Bar(MONTHS[i], value, MONTH_NAMES[i]) for i, value in enumerate(values)]
        rows = [(MONTH_NAMES[i], value) for i, value in enumerate(values)]
        return Chart(chart_id, title, Markup(bar_chart(chart_id, title, bars)), column, rows)

    kva = summary.kva.model_dump()
    return [
        monthly("oppnade", "Öppnade ärenden per månad", "Öppnade ärenden", [m.cases_opened for m in months]),
        monthly("moten", "Hållna SIP-möten per månad", "Hållna möten", [m.meetings_held for m in months]),
        monthly(
            "uppfoljningar",
            "Hållna uppföljningar per månad",
            "Uppföljningar",
            [m.followups_held for m in months],
        ),
        monthly("avvikelser", "Avvikelser per månad", "Avvikelser", [m.deviations for m in months]),
        Chart(
            "kva",
            "KVÅ-koder under året",
            Markup(bar_chart("kva", "KVÅ-koder under året", [Bar(code, kva[code]) for code in KVA_NAMES])),
            "Antal",
            [(f"{code} {name}", kva[code]) for code, name in KVA_NAMES.items()],
        ),
    ]


async def report_page(request: web.Request) -> web.Response:
    who = principal(request)
    rt = runtime(request)
    choices = region_choices(request, who)
    errors: dict[str, str] = {}
    region = request.query.get("region") or (choices[0].name if choices else "")
    if region not in {choice.name for choice in choices}:
        errors["region"] = "Välj en av regionerna i listan."
    this_year = local_date(await rt.clock.now()).year
    year_text = request.query.get("year") or str(this_year)
    year = int(year_text) if _YEAR.fullmatch(year_text) else None
    if year is None or not FIRST_YEAR <= year <= LAST_YEAR:
        errors["year"] = f"Skriv ett årtal med fyra siffror, från {FIRST_YEAR} till {LAST_YEAR}."
    summary = None
    if not errors and year is not None:
        summary = await summarize(rt.pool, who, region, year)
    return render(
        request,
        "report.html",
        status=400 if errors else 200,
        title="Årsrapport",
        choices=choices,
        region=region,
        year_text=year_text if "year" in errors else str(year),
        errors=errors,
        summary=summary,
        charts=_charts(summary) if summary else [],
        region_name=next((c.display_name for c in choices if c.name == region), ""),
        deviation_names=DEVIATION_NAMES,
        deviation_kinds=DEVIATION_KINDS,
        kva_names=KVA_NAMES,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/report", report_page)
