"""Plotly figure builders with one look: Okabe–Ito colours (colour-blind safe), compact margins,
percentages with one decimal. They draw what the views computed; they compute nothing.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard import format as fmt
from pipelines.spc import RULES
from pipelines.views.targets import AT_RISK, DATA_PROBLEM, OFF_TARGET, ON_TARGET

# Okabe & Ito (2008), "Color Universal Design"
BLUE = "#0072B2"
ORANGE = "#E69F00"
VERMILLION = "#D55E00"
SKY = "#56B4E9"
GREEN = "#009E73"
PURPLE = "#CC79A7"
YELLOW = "#F0E442"
GREY = "#8C8C8C"
VIOLET = "#A8437F"  # a data problem (the theme's violet)
PALETTE = [BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, YELLOW, GREY]
STATUS_COLOURS = {ON_TARGET: BLUE, AT_RISK: ORANGE, OFF_TARGET: VERMILLION, DATA_PROBLEM: VIOLET}

HEIGHT = 300


def _status_colour(status) -> str:
    return STATUS_COLOURS.get(status, GREY)


def _layout(fig: go.Figure, height: int = HEIGHT, percent_y: bool = False, **kw) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 8, "r": 8, "t": 36, "b": 8},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0},
        hoverlabel={"namelength": -1},
        colorway=PALETTE,
        **kw,
    )
    if percent_y:
        fig.update_yaxes(tickformat=percent_ticks(fig))
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def percent_ticks(fig: go.Figure) -> str:
    """'.0%' ticks, or '.1%' when the y values span less than 10 points (so ticks stay distinct)."""
    ys = []
    for trace in fig.data:
        values = getattr(trace, "y", None)
        if values is not None:
            ys += [float(y) for y in list(values) if y is not None and y == y]
    return ".1%" if ys and max(ys) - min(ys) < 0.1 else ".0%"


def _hover_value(unit: str) -> str:
    if unit == "%":
        return "%{y:.1%}"
    if unit.startswith("score"):
        return "%{y:.2f}"
    return "%{y:,.1f}"


def literal(value) -> str:
    """User text (a customer, a reason) as Plotly shows it literally: Plotly reads a few HTML
    tags (<a href>, <b>, <br>…) in labels, so < > & are written as entities."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def literals(values) -> list[str]:
    return [literal(v) for v in values]


def why(df: pd.DataFrame, default: str = "No data in this scope") -> str:
    """What an empty chart says: the view's reason for this scope (attrs), else `default`."""
    reasons = df.attrs.get("reasons") or {}
    return df.attrs.get("reason") or "; ".join(dict.fromkeys(reasons.values())) or default


def empty(message: str = "No data in this scope", height: int = 160) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(
        text=literal(fmt.sentence(message)),
        showarrow=False,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, height=height)


def target_line(g: pd.DataFrame, label: str, colour: str, width: float, hover: str, **kw):
    """A KPI's target across its periods (dashed, in the KPI's colour), or None without one."""
    target = g["target"].dropna()
    if not len(target):
        return None
    return go.Scatter(
        x=[g["period"].min(), g["period"].max()],
        y=[target.iloc[0], target.iloc[0]],
        name=f"{label} target",
        mode="lines",
        line={"color": colour, "width": width, "dash": "dash"},
        hovertemplate=hover,
        showlegend=False,
        **kw,
    )


def trend(df: pd.DataFrame, height: int = HEIGHT, title: str | None = None) -> go.Figure:
    """KPI lines per period with each KPI's target as a dashed line of the same colour; a period
    whose value is flagged (cannot be true) gets a violet ✕ marker."""
    if df.empty:
        return empty(why(df))
    fig = go.Figure()
    units = df["unit"].dropna().unique().tolist()
    unit = units[0] if len(units) == 1 else ""
    for i, (_metric, g) in enumerate(df.groupby("metric", sort=False)):
        colour = PALETTE[i % len(PALETTE)]
        label = g["label"].iloc[0]
        fig.add_trace(
            go.Scatter(
                x=g["period"],
                y=g["value"],
                name=label,
                mode="lines+markers" if len(g) <= 40 else "lines",
                line={"color": colour, "width": 2},
                marker={"size": 5},
                hovertemplate=f"{label}: {_hover_value(g['unit'].iloc[0])}<extra></extra>",
            )
        )
        bad = g[[bool(len(f)) for f in g["flags"]]] if "flags" in g.columns else g.iloc[0:0]
        if len(bad):
            fig.add_trace(
                go.Scatter(
                    x=bad["period"],
                    y=bad["value"],
                    name=f"{label}: data problem",
                    mode="markers",
                    marker={"symbol": "x", "size": 11, "color": VIOLET},
                    hovertemplate=f"{label}: {_hover_value(g['unit'].iloc[0])} "
                    "— data problem, cannot be true<extra></extra>",
                )
            )
        hover = f"{label} target: {_hover_value(g['unit'].iloc[0])}<extra></extra>"
        if (line := target_line(g, label, colour, 1.5, hover)) is not None:
            fig.add_trace(line)
    _layout(fig, height=height, percent_y=unit == "%", hovermode="x unified", title=title)
    return fig


def waterfall(df: pd.DataFrame, height: int = HEIGHT) -> go.Figure:
    """OEE loss waterfall in hours: planned time, three losses, fully productive time."""
    if df.empty:
        return empty(
            why(df, "No runs with planned time, downtime (or run time), cycle time and good units")
        )
    bad = list(df["data_problem"]) if "data_problem" in df.columns else [False] * len(df)
    labels = [f"{lb} (data problem)" if b else lb for lb, b in zip(df["label"], bad, strict=True)]
    text = [
        f"{h:,.0f} h · {fmt.percent(s)}" + (" · cannot be negative" if b else "")
        for h, s, b in zip(df["hours"], df["share_of_planned"], bad, strict=True)
    ]
    fig = go.Figure(
        go.Waterfall(
            x=labels,
            y=df["signed_hours"],
            measure=df["measure"],
            text=text,
            textposition="outside",
            cliponaxis=False,
            connector={"line": {"color": GREY, "width": 1}},
            # every loss falls; a bar that rises is a negative loss: a data problem
            increasing={"marker": {"color": VIOLET}},
            decreasing={"marker": {"color": VERMILLION}},
            totals={"marker": {"color": BLUE}},
            hovertemplate="%{x}: %{text}<extra></extra>",
        )
    )
    top = float(df["hours"].max())
    _layout(fig, height=height, showlegend=False)
    peak = max(top, float(df["running_hours"].max()))
    fig.update_yaxes(title_text="hours", range=[0, peak * 1.18])
    for x in (lb for lb, b in zip(labels, bad, strict=True) if b):
        # a negative loss rises instead of falling: mark the bar as a data problem
        fig.add_annotation(
            x=x,
            y=0,
            yref="paper",
            yanchor="bottom",
            text="⚠ data problem",
            showarrow=False,
            font={"color": VIOLET},
        )
    return fig


def pareto(df: pd.DataFrame, height: int = HEIGHT) -> go.Figure:
    """Stop hours per reason (bars) with the cumulative share (line, right axis)."""
    if df.empty:
        return empty(why(df, "No stops in this scope"))
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Bar(
            x=literals(df["reason"]),
            y=df["hours"],
            name="Stop hours",
            marker_color=VERMILLION,
            customdata=df[["stops", "share"]],
            hovertemplate="%{x}: %{y:,.1f} h in %{customdata[0]} stops "
            "(%{customdata[1]:.1%})<extra></extra>",
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=literals(df["reason"]),
            y=df["cumulative_share"],
            name="Cumulative %",
            mode="lines+markers",
            line={"color": BLUE, "width": 2},
            hovertemplate="cumulative %{y:.1%}<extra></extra>",
        ),
        secondary_y=True,
    )
    _layout(fig, height=height)
    fig.update_yaxes(title_text="hours", secondary_y=False)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05], secondary_y=True, showgrid=False)
    return fig


def heatmap(df: pd.DataFrame, target: float | None, height: int = HEIGHT) -> go.Figure:
    """Schedule adherence per line × day; the colour turns blue at the target."""
    if df.empty:
        return empty(why(df, "No planned runs in this scope"))
    grid = df.pivot(index="line", columns="period", values="value").sort_index(ascending=False)
    mid = target if target is not None else 0.95
    low = min(0.6, float(df["value"].min()))
    pos = max(0.0, min(1.0, (mid - low) / (1.0 - low))) if low < 1 else 0.5
    fig = go.Figure(
        go.Heatmap(
            z=grid.values,
            x=list(grid.columns),
            y=literals(grid.index),
            zmin=low,
            zmax=1.0,
            # below target: vermillion → light orange; from the target up: light blue → blue
            colorscale=[
                [0, VERMILLION],
                [max(0.0, pos - 0.001), "#F6D3A1"],
                [pos, "#C6DCEE"],
                [1, BLUE],
            ],
            colorbar={"tickformat": ".0%", "thickness": 10, "len": 0.9},
            hoverinfo="skip",
            xgap=1,
            ygap=1,
        )
    )
    # Heatmaps cannot be selected in Plotly: an invisible marker on each cell carries the hover
    # text and makes a click select the cell's line (drill-down)
    cells = df.dropna(subset=["value"])
    fig.add_trace(
        go.Scatter(
            x=cells["period"],
            y=literals(cells["line"]),
            mode="markers",
            marker={"size": 14, "color": "rgba(0,0,0,0)"},
            customdata=cells[["line"]],
            text=[fmt.percent(v) for v in cells["value"]],
            hovertemplate="%{y} · %{x}: %{text}<extra></extra>",
            showlegend=False,
        )
    )
    fig.update_yaxes(categoryorder="array", categoryarray=literals(grid.index))
    return _layout(fig, height=height)


def bars(
    df: pd.DataFrame,
    category: str,
    value: str,
    unit: str,
    status: str | None = None,
    target: float | None = None,
    height: int = HEIGHT,
    horizontal: bool = True,
    colour: str = BLUE,
    hover_extra: str = "",
    reason: str | None = None,
) -> go.Figure:
    """One bar per category; coloured by status when given; an optional target line. Empty, it
    says `reason` (or the frame's own reason for this scope)."""
    if df.empty or df[value].isna().all():
        return empty(reason or why(df))
    has_status = bool(status) and df[status].isin(list(STATUS_COLOURS)).any()
    colours = [_status_colour(s) for s in df[status]] if has_status else colour
    text = [fmt.value(v, unit) for v in df[value]]
    common = {
        "marker_color": colours,
        "text": text,
        "textposition": "auto",
        "customdata": df[[category]],
        "cliponaxis": False,
    }
    if horizontal:
        bar = go.Bar(
            y=literals(df[category]),
            x=df[value],
            orientation="h",
            hovertemplate=f"%{{y}}: %{{text}}{hover_extra}<extra></extra>",
            **common,
        )
    else:
        bar = go.Bar(
            x=literals(df[category]),
            y=df[value],
            hovertemplate=f"%{{x}}: %{{text}}{hover_extra}<extra></extra>",
            **common,
        )
    fig = go.Figure(bar)
    _layout(fig, height=height, showlegend=False)
    axis = fig.update_xaxes if horizontal else fig.update_yaxes
    if unit == "%":
        axis(tickformat=".0%")
    elif unit == "lines":
        small = float(df[value].max()) <= 10
        axis(tickformat="d", rangemode="tozero", dtick=1 if small else None)
    if horizontal:
        fig.update_yaxes(autorange="reversed", type="category")
    else:
        fig.update_xaxes(type="category")
    if target is not None:
        if horizontal:
            fig.add_vline(x=target, line_dash="dash", line_color=GREY)
        else:
            fig.add_hline(y=target, line_dash="dash", line_color=GREY)
    return fig


SERIES_COLOURS = [SKY, PURPLE, GREEN, YELLOW]  # categories, not statuses: no blue/orange/vermillion


def grouped(
    df: pd.DataFrame, category: str, series: str, value: str, unit: str, height: int = HEIGHT
) -> go.Figure:
    """Grouped bars: one group per category, one bar per series (e.g. KPI × production type)."""
    if df.empty:
        return empty(why(df))
    fig = go.Figure()
    for i, (name, g) in enumerate(df.groupby(series, sort=False)):
        flagged = [bool(len(f)) for f in g["flags"]] if "flags" in g.columns else [False] * len(g)
        fig.add_trace(
            go.Bar(
                x=literals(g[category]),
                y=g[value],
                name=literal(name),
                marker_color=SERIES_COLOURS[i % len(SERIES_COLOURS)],
                # a value that cannot be true: hatched, and said so
                marker_pattern_shape=["x" if f else "" for f in flagged],
                marker_line_color=[VIOLET if f else "rgba(0,0,0,0)" for f in flagged],
                marker_line_width=[2 if f else 0 for f in flagged],
                text=[
                    fmt.value(v, unit) + (" ⚠ data problem" if f else "")
                    for v, f in zip(g[value], flagged, strict=True)
                ],
                textposition="auto",
                customdata=g[[series]],
                hovertemplate="%{x} · %{customdata[0]}: %{text}<extra></extra>",
            )
        )
    _layout(fig, height=height, percent_y=unit == "%", barmode="group")
    fig.update_xaxes(type="category")
    return fig


def plan_vs_output(table: pd.DataFrame, height: int = HEIGHT) -> go.Figure:
    """Good units of planned runs against planned units, per line."""
    if table.empty:
        return empty(why(table))
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=literals(table["line"]),
            y=table["planned_units"],
            name="Planned",
            marker_color=GREY,
            customdata=table[["line"]],
            hovertemplate="%{x} planned: %{y:,.0f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Bar(
            x=literals(table["line"]),
            y=table["good_units_planned"],
            name="Good output",
            marker_color=BLUE,
            customdata=table[["line"]],
            hovertemplate="%{x} good: %{y:,.0f}<extra></extra>",
        )
    )
    _layout(fig, height=height, barmode="group")
    fig.update_xaxes(type="category")
    fig.update_yaxes(title_text="units")
    return fig


def histogram(
    hist: pd.DataFrame, median: float | None, p90: float | None, height: int = HEIGHT
) -> go.Figure:
    """Order lines per order-to-delivery days, with the median and p90 marked."""
    if hist.empty:
        return empty(why(hist, "No delivered lines in this scope"))
    fig = go.Figure(
        go.Bar(
            x=hist["cycle_days"],
            y=hist["lines"],
            marker_color=SKY,
            hovertemplate="%{x} days: %{y} lines<extra></extra>",
        )
    )
    for x, name, colour in ((median, "median", BLUE), (p90, "p90", VERMILLION)):
        if x is not None:
            fig.add_vline(
                x=x,
                line_dash="dash",
                line_color=colour,
                annotation_text=f"{name} {x:.1f} d",
                annotation_position="top right",
                annotation_font_color=colour,
            )
    _layout(fig, height=height, showlegend=False, bargap=0.1)
    fig.update_xaxes(title_text="days from order to delivery")
    fig.update_yaxes(title_text="order lines")
    return fig


BAND_COLOURS = {
    "satisfied": BLUE,
    "neutral": GREY,
    "dissatisfied": VERMILLION,
    "promoter": BLUE,
    "passive": GREY,
    "detractor": VERMILLION,
}


def scores(df: pd.DataFrame, kind: str, height: int = 240) -> go.Figure:
    """Responses per score of one survey (csat 1–5 or nps 0–10), coloured by band."""
    g = df[df["kind"] == kind]
    if g.empty or not (g["responses"] > 0).any():
        return empty(why(df, "No responses in this scope"), height=height)
    fig = go.Figure(
        go.Bar(
            x=g["score"].astype(int).astype(str),
            y=g["responses"],
            marker_color=[BAND_COLOURS.get(b, GREY) for b in g["band"]],
            customdata=g[["band", "share"]],
            hovertemplate="score %{x}: %{y} responses (%{customdata[1]:.1%}, "
            "%{customdata[0]})<extra></extra>",
        )
    )
    _layout(fig, height=height, showlegend=False)
    fig.update_xaxes(type="category", title_text="CSAT score" if kind == "csat" else "NPS score")
    fig.update_yaxes(title_text="responses")
    return fig


def action_pins(fig: go.Figure, markers: pd.DataFrame) -> go.Figure:
    """Notes on a trend (pipelines.actions.trend_markers): a dotted vertical line at each note's
    period and a pin on its KPI's line there (when that period has a value); the hover says
    the note, its owner and status. User text is shown literally."""
    if markers.empty:
        return fig
    colours = {t.name: t.line.color for t in fig.data if t.line is not None and t.line.color}
    for period in dict.fromkeys(markers["period"]):
        fig.add_vline(x=str(period), line_dash="dot", line_color=GREY, line_width=1)
    for label, g in markers.dropna(subset=["value"]).groupby("label", sort=False):
        fig.add_trace(
            go.Scatter(
                x=g["period"],
                y=g["value"],
                name=f"{label}: notes",
                mode="markers",
                marker={
                    "symbol": "star",
                    "size": 15,
                    "color": colours.get(label, GREY),
                    "line": {"color": "white", "width": 1},
                },
                customdata=[[literal(_short(t)), literal(d)] for t, d in _pin_texts(g)],
                hovertemplate="📌 %{customdata[0]}<br>%{customdata[1]}<extra></extra>",
                showlegend=False,
            )
        )
    return fig


def _short(text: str, n: int = 120) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _pin_texts(g: pd.DataFrame) -> list[tuple[str, str]]:
    """(the note, 'owner Ann · open · due 10 Mar 2026 · about 4 Mar 2026') per marker."""
    out = []
    for r in g.to_dict("records"):
        parts = [f"owner {r['owner']}" if _given(r["owner"]) else "no owner", r["status"]]
        parts += [f"due {fmt.day(r['due'])}"] if _given(r["due"]) else []
        out.append((r["text"], " · ".join([*parts, f"about {fmt.day(r['day'])}"])))
    return out


def _given(value) -> bool:
    return (
        value is not None
        and value is not pd.NaT
        and not (isinstance(value, float) and value != value)
    )


# ---------------------------------------------------------------------------------- control charts


def control_limits(fig: go.Figure, chart, label: str, unit: str) -> go.Figure:
    """Add an XmR chart's center line and limits (pipelines.spc.Chart, drawn as computed) to a
    trend figure of the same KPI, and mark its signal points (a ring) with the names of the
    rules each breaks on hover. A chart without limits adds nothing."""
    limits = chart.limits
    if limits is None or not chart.points:
        return fig
    days = [p.day for p in chart.points]
    span = [min(days), max(days)]
    hover = _hover_value(unit)
    for name, y, dash in (
        ("center", limits.center, "dot"),
        ("UCL", limits.ucl, "dashdot"),
        ("LCL", limits.lcl, "dashdot"),
    ):
        fig.add_trace(
            go.Scatter(
                x=span,
                y=[y, y],
                name=f"{label} {name}",
                mode="lines",
                line={"color": GREY, "width": 1.2, "dash": dash},
                hovertemplate=f"{label} {name}: {hover}<extra></extra>",
                showlegend=name != "LCL",
                legendgroup=f"limits-{label}",
            )
        )
    signals = chart.signals
    if signals:
        text = ["; ".join(RULES[r].name for r in p.rules) for p in signals]
        fig.add_trace(
            go.Scatter(
                x=[p.day for p in signals],
                y=[p.value for p in signals],
                name=f"{label}: control-chart signal",
                mode="markers",
                marker={
                    "symbol": "circle-open",
                    "size": 13,
                    "color": VERMILLION,
                    "line": {"width": 2},
                },
                text=text,
                hovertemplate=f"{label}: {hover} — signal: %{{text}}<extra></extra>",
            )
        )
    return fig


# ---------------------------------------------------------------------------------- small multiples


def small_multiples(
    df: pd.DataFrame, facet: str, order: list[str], columns: int = 4, row_height: int = 190
) -> go.Figure:
    """One small chart per value of `facet` (e.g. a line), each with the KPIs of `order` over the
    periods (a colour per KPI, the same in every chart) and each KPI's target for that value
    dashed; a flagged value gets a violet ✕. Shared axes, one legend. Clicking a point selects
    its facet value (its customdata)."""
    if df.empty:
        return empty(why(df))
    values = sorted(df[facet].dropna().unique(), key=str)
    rows = -(-len(values) // columns)
    fig = make_subplots(
        rows=rows,
        cols=min(columns, len(values)),
        shared_xaxes=True,
        shared_yaxes=True,
        subplot_titles=literals(values),
        vertical_spacing=0.12 / rows if rows > 1 else 0.1,
        horizontal_spacing=0.03,
    )
    colours = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(order)}
    for n, value in enumerate(values):
        where = {"row": n // columns + 1, "col": n % columns + 1}
        for metric in order:
            g = df[(df[facet] == value) & (df["metric"] == metric)]
            if len(g):
                _facet_traces(fig, g, facet, colours[metric], first=n == 0, where=where)
    height = 90 + rows * row_height
    _layout(fig, height=height, percent_y=set(df["unit"]) == {"%"})
    # the legend above the first row's titles
    fig.update_layout(hovermode="closest", margin={"t": 66}, legend={"y": 1 + 30 / (height - 74)})
    return fig


def _facet_traces(fig: go.Figure, g: pd.DataFrame, facet: str, colour: str, first: bool, where):
    """One KPI in one small chart: its line, its flagged values, its target."""
    label, unit = g["label"].iloc[0], g["unit"].iloc[0]
    value = literal(g[facet].iloc[0])
    hover = f"{value} · {label}: {_hover_value(unit)}"
    fig.add_trace(
        go.Scatter(
            x=g["period"],
            y=g["value"],
            name=label,
            legendgroup=label,
            showlegend=first,
            mode="lines",
            line={"color": colour, "width": 1.6},
            customdata=g[[facet]],
            hovertemplate=f"{hover} (%{{x}})<extra></extra>",
        ),
        **where,
    )
    bad = g[[bool(len(f)) for f in g["flags"]]]
    if len(bad):
        fig.add_trace(
            go.Scatter(
                x=bad["period"],
                y=bad["value"],
                name=f"{label}: data problem",
                legendgroup=label,
                showlegend=False,
                mode="markers",
                marker={"symbol": "x", "size": 9, "color": VIOLET},
                customdata=bad[[facet]],
                hovertemplate=f"{hover} — data problem, cannot be true<extra></extra>",
            ),
            **where,
        )
    hover = f"{value} · {label} target: {_hover_value(unit)}<extra></extra>"
    if (line := target_line(g, label, colour, 1, hover, legendgroup=label)) is not None:
        fig.add_trace(line, **where)
