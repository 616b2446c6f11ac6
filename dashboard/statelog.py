"""The Data page's state-log path: a machine status log becomes production runs and downtime
events once the analyst says which state codes mean running, planned stop and unplanned stop
(pipelines/uploads/statelog.py does the work; this module only draws the editor and its result).
"""

from __future__ import annotations

import streamlit as st

from dashboard import format as fmt
from dashboard import uploads as up
from pipelines.uploads.statelog import StateLogError, StateLogSpec
from pipelines.uploads.statelog_spec import code_key
from pipelines.uploads.values import DATE_FORMATS

STATE_LOG = "state_log"  # the table selector's option for "read it as a state log"
CLASSES = {
    "running": "Running",
    "planned_stop": "Planned stop",
    "unplanned_stop": "Unplanned stop",
}


def first_spec(rec: up.Upload) -> StateLogSpec:
    """The proposed spec, else one over the file's first columns for the analyst to set."""
    raw = rec.prepared.raw
    if rec.prepared.state_log is not None:
        return rec.prepared.state_log
    h = raw.header + raw.header[:1] * 3
    return StateLogSpec(timestamp=h[0], machine=h[1], state=h[2], running=[])


def codes(rec: up.Upload, header: str) -> list[str]:
    """The distinct state codes of a column (as written; at most 200)."""
    raw = rec.prepared.raw
    i = raw.header.index(header)
    seen: dict[str, str] = {}
    for r in raw.rows:
        v = r[i].strip()
        if v and code_key(v) not in seen:
            seen[code_key(v)] = v
            if len(seen) >= 200:
                break
    return sorted(seen.values(), key=code_key)


def editor(rec: up.Upload) -> StateLogSpec | None:
    """The state-log settings; the spec they describe, or None (with the reason shown)."""
    spec = rec.state_log or first_spec(rec)
    headers = rec.prepared.raw.header
    fid, v = rec.file_id, rec.editor_version
    a, b, c, d = st.columns(4)
    ts = a.selectbox(
        "Timestamp", headers, index=headers.index(spec.timestamp), key=f"sl-ts-{fid}-{v}"
    )
    machine = b.selectbox(
        "Machine", headers, index=headers.index(spec.machine), key=f"sl-m-{fid}-{v}"
    )
    state = c.selectbox(
        "State code", headers, index=headers.index(spec.state), key=f"sl-s-{fid}-{v}"
    )
    count_options = [up.NONE, *headers]
    count = d.selectbox(
        "Items counted (optional)",
        count_options,
        index=count_options.index(spec.count or up.NONE),
        key=f"sl-c-{fid}-{v}",
    )
    found = codes(rec, state)
    chosen = {}
    cols = st.columns(len(CLASSES))
    for col, (cls, label) in zip(cols, CLASSES.items(), strict=True):
        default = [x for x in getattr(spec, cls) if x in found] if state == spec.state else []
        chosen[cls] = col.multiselect(label, found, default=default, key=f"sl-{cls}-{fid}-{v}")
    e, f, g = st.columns(3)
    gap = e.number_input(
        "Gap limit (min)",
        min_value=0.5,
        value=float(spec.gap_limit_min),
        step=5.0,
        key=f"sl-gap-{fid}-{v}",
        help="A record lasts until the machine's next record, at most this long (a longer gap "
        "means the log was off).",
    )
    plant = f.text_input("Plant (optional)", value=spec.plant or "", key=f"sl-p-{fid}-{v}")
    formats = ["", *DATE_FORMATS]
    date_format = g.selectbox(
        "Date format",
        formats,
        index=formats.index(spec.date_format or ""),
        key=f"sl-df-{fid}-{v}",
        format_func=lambda x: x or "recognise",
    )
    new = StateLogSpec(
        timestamp=ts,
        machine=machine,
        state=state,
        count=None if count == up.NONE else count,
        date_format=date_format or None,
        gap_limit_min=float(gap),
        plant=plant.strip() or None,
        product=spec.product,
        **chosen,
    )
    try:
        new.check(rec.prepared.raw)
    except StateLogError as err:
        st.error(fmt.plain(str(err)), icon=":material/block:")
        return None
    return new


def report(rec: up.Upload) -> None:
    """What reading the log did: records, minutes per class, codes left unclassified."""
    r = rec.state_log_report
    if r is None:
        return
    st.caption(
        f"{r.records_read:,} records read: {r.records_used:,} used, {r.records_rejected:,} "
        f"rejected · {len(r.machines)} machine(s) · "
        + " · ".join(f"{CLASSES.get(k, k)} {v:,.0f} min" for k, v in r.minutes.items() if v)
    )
    for note in r.notes:
        st.markdown(f"- {fmt.plain(note)}")
