"""Data: bring your own files. Upload CSV or Excel exports, check the proposed table and column
mapping, validate into a private batch (visible only in this browser session), review the rejected
rows, then publish to the shared store or discard. The shared batches can be rolled back.
"""

from __future__ import annotations

import logging

import streamlit as st

from dashboard import access, state
from dashboard import format as fmt
from dashboard import statelog as sl
from dashboard import uploads as up
from pipelines.access import guard
from pipelines.alerts.hook import evaluate_in_background
from pipelines.contract import load
from pipelines.store import Store, check_dataset, dataset_name
from pipelines.uploads import (
    UploadError,
    ingest_upload,
    prepare_upload,
    presets_dir,
    save_preset,
)
from pipelines.uploads.statelog import ingest_state_log, state_log_tables
from pipelines.views.uploads import accepted_frame, rejects_csv, rejects_frame

log = logging.getLogger("andon.dashboard.data")

UPLOADS = "_andon_uploads"  # file_id → up.Upload, in st.session_state only
UPLOADER = "uploads"
ROLLBACK = "_andon_rollback"
PREVIEW_ROWS = 50


NEW = "__new__"  # the dataset selector's "a new dataset" option
GOTO = "_andon_goto_overview"  # set by a publish: open the dataset on the overview


def store() -> Store:
    """The store's private batches (they belong to no dataset until published)."""
    return Store(state.store_path())


def target(rec: up.Upload) -> str:
    """The dataset the upload is published into: an existing one, or a new one (its name
    proposed from the file's name)."""
    fid = rec.file_id
    choice = st.session_state.get(f"dataset-{fid}", NEW)
    if choice != NEW:
        return choice
    name = (st.session_state.get(f"dataset-name-{fid}") or "").strip()
    return name or dataset_name(rec.name)


def target_store(rec: up.Upload) -> Store:
    return Store(state.store_path(), target(rec))


def records() -> dict[str, up.Upload]:
    return st.session_state.setdefault(UPLOADS, {})


def limit_mb() -> int:
    try:
        return int(st.get_option("server.maxUploadSize"))
    except Exception:
        return 200


def friendly(e: Exception, what: str) -> str:
    """A one-line message for the page, as plain text (a file name may carry markdown or links);
    `what` is our own text (any user text in it already escaped)."""
    if isinstance(e, UploadError):
        return fmt.plain(str(e))
    log.exception("upload step failed: %s", what)
    return f"Sorry — {what} failed unexpectedly. The file was left untouched; try again."


# -------------------------------------------------------------------------------- reading


def receive(f) -> up.Upload:
    """A new uploaded file: checked, saved under a server-chosen name, read and mapped."""
    rec = up.Upload(file_id=f.file_id, name=f.name, path=None, size=f.size)
    try:
        up.check_size(f.size, limit_mb(), f.name)
        folder = state.session_files().dir
        rec.path = up.save_upload(folder, f.getvalue(), f.name)
        rec.prepared = prepare_upload(
            rec.path, f.name, presets_dir=presets_dir(state.store_path()), tmp_dir=folder
        )
        if rec.prepared.as_state_log:
            rec.state_log = rec.prepared.state_log
    except Exception as e:
        rec.error = friendly(e, "reading the file")
    return rec


def sync_uploads(files) -> list[up.Upload]:
    """The session's uploads: the uploader's files, plus any with a batch still unpublished (or
    a message still to show, e.g. after publishing it from another page visit)."""
    recs = records()
    present = set()
    for f in files or []:
        present.add(f.file_id)
        if f.file_id not in recs:
            recs[f.file_id] = receive(f)
    for fid in list(recs):
        rec = recs[fid]
        if rec.batch_id is not None and not (store().private_dir / rec.batch_id).is_dir():
            forget_batch(rec)
        if fid not in present and rec.batch_id is None and not rec.messages:
            rec.cleanup()
            del recs[fid]
    return list(recs.values())


def forget_batch(rec: up.Upload) -> None:
    """The private batch is gone: kept past the session timeout, another server's start swept it
    (pipelines/store/sweep.py)."""
    state.drop_private(rec.batch_id)
    rec.batch_id = rec.result = None
    rec.messages.append(("warning", "The validated rows expired and were removed: validate again."))


# -------------------------------------------------------------------------------- actions
# (button callbacks: they run before the next script run, so the sidebar's view mode and every
# page's engine already reflect them)


def _drop_batch(rec: up.Upload) -> None:
    for batch_id in rec.private_batches:
        store().discard(batch_id)
        state.drop_private(batch_id)
    rec.batch_id = rec.stop_batch_id = None
    rec.result = rec.stop_result = None


def _switch(rec: up.Upload, new, what: str) -> None:
    """Use the upload's new canonical CSV: the replaced one's folder goes at once, and the
    validated batch (made from the replaced one) is discarded."""
    rec.replace(new)
    try:
        _drop_batch(rec)
    except Exception as e:
        rec.messages.append(("error", friendly(e, what)))


def set_table(fid: str) -> None:
    rec = records()[fid]
    table = st.session_state.get(f"table-{fid}")
    if rec.prepared is None:
        return
    if table == sl.STATE_LOG or rec.state_log is not None:
        _drop_batch(rec)
        rec.state_log = sl.first_spec(rec) if table == sl.STATE_LOG else None
        rec.editor_version += 1
        if table == sl.STATE_LOG or table == rec.prepared.table:
            return
    if table == rec.prepared.table:
        return
    try:
        new = prepare_upload(rec.path, rec.name, table=table, tmp_dir=state.session_files().dir)
    except Exception as e:
        rec.messages.append(("error", friendly(e, "mapping the file")))
        return
    _switch(rec, new, "mapping the file")
    rec.editor_version += 1


def set_sheet(fid: str) -> None:
    rec = records()[fid]
    sheet = st.session_state.get(f"sheet-{fid}")
    try:
        new = prepare_upload(
            rec.path,
            rec.name,
            sheet=sheet,
            presets_dir=presets_dir(state.store_path()),
            tmp_dir=state.session_files().dir,
        )
    except Exception as e:
        rec.messages.append(("error", friendly(e, "reading the sheet")))
        return
    _switch(rec, new, "reading the sheet")
    rec.editor_version += 1


def remap(rec: up.Upload, mapping) -> None:
    try:
        new = rec.prepared.remap(mapping)
    except Exception as e:
        rec.messages.append(("error", friendly(e, "applying the mapping")))
        return
    _switch(rec, new, "applying the mapping")  # the validated batch no longer matches


def validate(fid: str) -> None:
    rec = records()[fid]
    if rec.state_log is not None:
        return validate_state_log(rec)
    s = store()
    try:
        _drop_batch(rec)
        result = ingest_upload(s, rec.prepared, private=True)
    except Exception as e:
        rec.messages.append(("error", friendly(e, "validating the file")))
        return
    rec.result = result
    rec.batch_id = result.batch_id
    state.add_private(result.batch_id)


def validate_state_log(rec: up.Upload) -> None:
    """Read the log with its spec into two private batches: runs and stops."""
    try:
        _drop_batch(rec)
        runs, stops = ingest_state_log(
            store(),
            rec.prepared.raw,
            rec.state_log,
            rec.name,
            private=True,
            tmp_dir=state.session_files().dir,
        )
        rec.state_log_report = state_log_tables(rec.prepared.raw, rec.state_log).report
    except Exception as e:
        rec.messages.append(("error", friendly(e, "reading the state log")))
        return
    rec.result, rec.batch_id = runs, runs.batch_id
    rec.stop_result, rec.stop_batch_id = stops, stops.batch_id
    state.add_private(runs.batch_id)
    state.add_private(stops.batch_id)


def publish(fid: str) -> None:
    rec = records()[fid]
    if rec.batch_id is None:
        return
    try:
        into = target_store(rec)
        who = access.actor()
        if rec.stop_batch_id is not None:
            guard.publish(into, rec.stop_batch_id, who)
            state.drop_private(rec.stop_batch_id)
            rec.stop_batch_id = None
        result = guard.publish(into, rec.batch_id, who)
    except Exception as e:
        rec.messages.append(("error", friendly(e, "publishing")))
        return
    state.drop_private(rec.batch_id)
    rec.batch_id = None
    rec.published = result
    if not result.duplicate_of:  # the dataset's alerts see the new batch (in the background)
        try:
            evaluate_in_background(into, state.engine_for(into.dataset))
        except Exception:
            log.exception("alerts after publishing into %s", into.dataset)
    try:
        info = state.engine_for(into.dataset).scoped(access.actor().plants).info
        state.open_dataset(into.dataset, info.start, info.end)
        st.session_state[GOTO] = True
    except Exception:
        log.exception("opening dataset %s after publishing", into.dataset)
    if result.duplicate_of:
        rec.messages.append(
            (
                "info",
                f"Already published as batch `{result.duplicate_of}` (same file content): "
                "not added twice.",
            )
        )
    else:
        text = (
            f"Published as batch `{result.batch_id}` into dataset `{into.dataset}`: every viewer "
            "sees it on their next refresh."
        )
        if result.replaced_rows:
            text += f" It replaces {result.replaced_rows} row(s) with the same key."
        rec.messages.append(("success", text))


def discard(fid: str) -> None:
    rec = records()[fid]
    try:
        _drop_batch(rec)
    except Exception as e:
        rec.messages.append(("error", friendly(e, "discarding")))
        return
    rec.messages.append(("info", "Discarded: the validated rows were removed."))


def save_mapping(fid: str) -> None:
    rec = records()[fid]
    try:
        path = save_preset(rec.prepared.mapping, presets_dir(state.store_path()))
    except Exception as e:
        rec.messages.append(("error", friendly(e, "saving the mapping")))
        return
    rec.messages.append(
        (
            "success",
            f"Mapping saved as preset `{path.name}`: it is applied automatically to the next "
            "file with the same columns.",
        )
    )


def ask_rollback() -> None:
    st.session_state[ROLLBACK] = st.session_state.get("rollback-batch")


def confirm_rollback() -> None:
    batch_id = st.session_state.pop(ROLLBACK, None)
    if not batch_id:
        return
    try:
        guard.roll_back(state.dataset_store(), batch_id, access.actor())
        st.session_state["_andon_rollback_done"] = ("success", f"Batch `{batch_id}` rolled back.")
    except Exception as e:
        st.session_state["_andon_rollback_done"] = ("error", friendly(e, "rolling back"))


def cancel_rollback() -> None:
    st.session_state.pop(ROLLBACK, None)


# -------------------------------------------------------------------------------- rendering


def show_messages(rec: up.Upload) -> None:
    for kind, text in rec.messages:
        getattr(st, kind)(text)
    rec.messages.clear()


def mapping_editor(rec: up.Upload) -> None:
    p = rec.prepared
    fid = rec.file_id
    m = p.mapping
    rows = up.mapping_rows(m)
    edited = st.data_editor(
        rows,
        key=f"mapping-{fid}-{rec.editor_version}",
        hide_index=True,
        width="stretch",
        num_rows="fixed",
        disabled=["column", "type", "required", "match", "status", "unlocks", "why"],
        column_config={
            "column": st.column_config.TextColumn("Canonical column"),
            "source": st.column_config.SelectboxColumn(
                "Your column", options=[up.NONE, *m.headers], required=True
            ),
            "value": st.column_config.TextColumn(
                "Or a constant / = formula",
                help="A value for every row (e.g. 1), or a formula over your columns starting "
                "with = (e.g. = ([Planned s] - [Run s]) / 60). It replaces 'Your column'.",
                max_chars=500,
            ),
            "unlocks": st.column_config.TextColumn("Unlocks", help="The KPIs that need it."),
            "why": st.column_config.TextColumn("Why proposed"),
            "transform": st.column_config.SelectboxColumn(
                "Transform", options=up.transform_options()
            ),
            "date_format": st.column_config.SelectboxColumn(
                "Date format", options=up.date_options()
            ),
            "decimal": st.column_config.SelectboxColumn("Decimal", options=["", ".", ","]),
            "match": st.column_config.ProgressColumn(
                "Match", min_value=0.0, max_value=1.0, format="%.2f"
            ),
        },
    )
    try:
        new = up.edited_mapping(p, edited)
    except UploadError as e:
        st.error(fmt.plain(str(e)), icon=":material/block:")
        new = None
    if new is not None:
        remap(rec, new)
        st.rerun()
    kpi_needs(rec.prepared.mapping)
    for col, candidates in rec.prepared.mapping.ambiguous_dates.items():
        cm = rec.prepared.mapping.columns[col]
        if cm.source is None:
            continue
        st.warning(
            f"**{col}** (your column {fmt.plain(cm.source)}): every date fits more than one "
            "format. Which one does the file mean?",
            icon=":material/help:",
        )
        options = list(candidates)
        current = cm.date_format if cm.date_format in options else options[0]
        choice = st.radio(
            f"Date format of {col}",
            options,
            index=options.index(current),
            key=f"date-{fid}-{col}-{rec.editor_version}",
            format_func=up.date_label,
            horizontal=True,
        )
        changed = up.with_date_format(rec.prepared.mapping, col, choice)
        if changed is not None:
            remap(rec, changed)
            st.rerun()
    extras = rec.prepared.mapping.extras
    if extras:
        st.caption(
            "Not mapped, kept aside with each row (not lost): "
            + ", ".join(fmt.plain(h) for h in extras[:20])
            + (" …" if len(extras) > 20 else "")
        )


def table_selector(rec: up.Upload) -> None:
    """Which canonical table the file is (best match first), or a machine state log."""
    p = rec.prepared
    scores = dict(p.proposals)
    tables = [t for t, _ in p.proposals] + [sl.STATE_LOG]
    current = sl.STATE_LOG if rec.state_log is not None else p.table
    st.selectbox(
        "Which table is this?",
        tables,
        index=tables.index(current) if current in tables else 0,
        format_func=lambda t: (
            "machine state log → runs and stops"
            if t == sl.STATE_LOG
            else f"{t} (match {scores.get(t, 0):.0%})"
        ),
        key=f"table-{rec.file_id}",
        on_change=set_table,
        args=(rec.file_id,),
    )
    fits = getattr(p.mapping, "fits", None)
    if fits and rec.state_log is None:
        st.warning(fmt.plain(fits), icon=":material/help:")


def state_log_results(rec: up.Upload) -> None:
    """The runs and stops a validated state log gives."""
    runs, stops = rec.result, rec.stop_result
    a, b, c = st.columns(3)
    a.metric("Runs (machine × day)", f"{runs.rows_accepted:,}")
    b.metric("Stops", f"{stops.rows_accepted:,}")
    c.metric("Records rejected", f"{runs.rows_rejected:,}")
    sl.report(rec)
    if runs.rows_rejected:
        batch = store().private_batch(rec.batch_id)
        st.dataframe(rejects_frame(batch.path, limit=PREVIEW_ROWS), hide_index=True)


def kpi_needs(mapping) -> None:
    """The KPIs this mapping computes, and what each of the others still needs."""
    ready, total = up.ready_count(mapping)
    with st.expander(f"KPIs this file computes: {ready} of {total} that read {mapping.table}"):
        st.dataframe(
            up.needs_rows(mapping),
            hide_index=True,
            width="stretch",
            column_config={"ready": st.column_config.CheckboxColumn("Ready")},
        )


def results(rec: up.Upload) -> None:
    r = rec.result
    p = rec.prepared
    batch = store().private_batch(rec.batch_id)
    a, b, c = st.columns(3)
    a.metric("Rows accepted", f"{r.rows_accepted:,}")
    b.metric("Rows rejected", f"{r.rows_rejected:,}")
    into = target_store(rec)
    try:
        replaced = into.count_replaced(r.table, batch.path)
    except Exception:
        replaced = 0
    c.metric(
        "Rows it would replace",
        f"{replaced:,}",
        help=f"In dataset {into.dataset}: same key (the newest batch wins).",
    )
    for column, values in (r.unrecognised or {}).items():
        shown = ", ".join(f"{fmt.plain(v)} ({n:,})" for v, n in values[:12])
        allowed = ", ".join(load().tables[r.table].columns[column].values)
        st.warning(
            f"**Unrecognised {column} values:** {shown}{' …' if len(values) > 12 else ''}. "
            f"They are kept as written, not read as any of {allowed}; KPIs over these rows are "
            "flagged as a data problem.",
            icon=":material/help:",
        )
    same = into.find_by_hash(r.table, p.raw.sha256)
    if same is not None:
        st.info(
            f"This file (same content) is already published in dataset `{into.dataset}` as "
            f"batch `{same.id}`: publishing it there again adds nothing.",
            icon=":material/content_copy:",
        )
    if r.rows_rejected:
        st.markdown("**Top reasons**")
        st.dataframe(up.reasons_frame(r.top_reasons), hide_index=True, key=f"reasons-{r.batch_id}")
        st.markdown("**Rejected rows** (line of your file and the reason)")
        st.dataframe(
            rejects_frame(batch.path, limit=PREVIEW_ROWS),
            hide_index=True,
            key=f"rejects-{r.batch_id}",
        )
        st.download_button(
            f"Download rejected rows ({r.rows_rejected:,}) as CSV",
            data=rejects_csv(batch.path),
            file_name=f"andon-rejects-{p.table}.csv",
            mime="text/csv",
            on_click="ignore",
            icon=":material/download:",
            key=f"download-rejects-{r.batch_id}",
        )
    st.markdown("**Accepted rows** (first rows)")
    st.dataframe(
        accepted_frame(batch.path, p.table, limit=PREVIEW_ROWS),
        hide_index=True,
        key=f"accepted-{r.batch_id}",
    )


def one_upload(rec: up.Upload) -> None:
    fid = rec.file_id
    with st.container(border=True, key=f"upload-{fid}"):
        st.markdown(f"#### :material/description: {fmt.plain(rec.name)}")
        show_messages(rec)
        if rec.error:
            st.error(rec.error, icon=":material/error:")
            return
        p = rec.prepared
        if p is None:
            return
        if rec.published is not None and rec.batch_id is None:
            st.caption("Published. Remove the file from the uploader when you are done.")
        raw = p.raw
        read = f"{raw.n_rows:,} rows, {len(raw.header)} columns"
        if raw.kind == "csv":
            read += f", {raw.encoding}, delimiter {raw.delimiter!r}"
        st.caption(read)
        if p.preset is not None:
            st.info(
                "Preset applied: the saved mapping for these columns was used.",
                icon=":material/bookmark:",
            )
        notes = [*raw.notes, *p.notes, *p.report.notes, *p.mapping.notes]
        if notes:
            with st.expander("What reading and mapping did"):
                for n in notes:
                    st.markdown(f"- {fmt.plain(n)}")
        if raw.kind == "xlsx" and len(raw.sheets) > 1:
            st.selectbox(
                "Sheet",
                raw.sheets,
                index=raw.sheets.index(raw.sheet) if raw.sheet in raw.sheets else 0,
                key=f"sheet-{fid}",
                on_change=set_sheet,
                args=(fid,),
            )
        table_selector(rec)
        if rec.state_log is not None:
            st.markdown("**State log** — which codes mean running, planned and unplanned stops")
            spec = sl.editor(rec)
            if spec != rec.state_log:
                _drop_batch(rec)  # validated under other settings
                rec.state_log = spec or rec.state_log
            missing = [] if spec is not None else ["valid state-log settings"]
        else:
            st.markdown("**Column mapping** — check it, change a row if needed")
            mapping_editor(rec)
            missing = rec.prepared.missing_required
        if missing and rec.state_log is None:
            st.error(
                "Map a column to the required " + ", ".join(missing) + " before validating.",
                icon=":material/block:",
            )
        left, mid, _ = st.columns(3)
        left.button(
            "Validate",
            key=f"validate-{fid}",
            on_click=validate,
            args=(fid,),
            disabled=bool(missing),
            type="primary" if rec.batch_id is None else "secondary",
            icon=":material/fact_check:",
        )
        mid.button(
            "Save mapping as preset",
            key=f"preset-{fid}",
            on_click=save_mapping,
            args=(fid,),
            disabled=bool(missing) or rec.state_log is not None,
            icon=":material/bookmark_add:",
        )
        if rec.batch_id is not None and rec.result is not None:
            st.caption(
                "Validated into a private batch: only you see it (Data: My uploads / Both in the "
                "sidebar) until you publish it."
            )
            publish_into(rec)
            if rec.state_log is not None:
                state_log_results(rec)
            else:
                results(rec)
            a, b = st.columns(2)
            a.button(
                "Publish",
                key=f"publish-{fid}",
                on_click=publish,
                args=(fid,),
                type="primary",
                icon=":material/publish:",
            )
            b.button("Discard", key=f"discard-{fid}", on_click=discard, args=(fid,))


def publish_into(rec: up.Upload) -> None:
    """Which dataset the upload goes to: a new one named after the file (the default), or one
    the store has."""
    fid = rec.file_id
    who = access.actor()
    names = [n for n in state.datasets() if guard.may_publish_into(who, state.store_for(n))]
    left, right = st.columns(2)
    choice = left.selectbox(
        "Dataset",
        [NEW, *names],
        key=f"dataset-{fid}",
        format_func=lambda n: "a new dataset" if n == NEW else n,
        help="A dataset has its own dates, as-of date and targets; KPIs never mix datasets. "
        + (
            "Listed: the datasets you may publish into (yours, made by your first publish)."
            if not who.can("publish_any")
            else ""
        ),
    )
    if choice == NEW:
        right.text_input(
            "New dataset's name",
            value=dataset_name(rec.name),
            key=f"dataset-name-{fid}",
            max_chars=48,
            help="Lower-case letters, digits, '-' and '_'.",
        )
    try:
        check_dataset(target(rec))
    except Exception as e:
        st.error(fmt.plain(str(e)), icon=":material/block:")


def batch_list() -> None:
    st.markdown(f"### :material/inventory_2: Batches of dataset `{state.dataset()}`")
    done = st.session_state.pop("_andon_rollback_done", None)
    if done:
        getattr(st, done[0])(done[1])
    df = up.batch_rows(state.dataset_store())
    if df.empty:
        st.caption("No shared batches yet.")
        return
    st.dataframe(df, hide_index=True, key="batch-list")
    if not access.actor().can("roll_back"):
        st.caption(":material/lock: Rolling back a batch is for admins.")
        return
    ids = list(df["batch"])
    names = dict(zip(df["batch"], df["source file"], strict=True))
    pending = st.session_state.get(ROLLBACK)
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    left.selectbox(
        "Roll back a batch",
        ids,
        index=None,
        key="rollback-batch",
        format_func=lambda b: f"{names.get(b)} · {b}",
        placeholder="Choose a batch to remove from the shared store",
    )
    right.button(
        "Roll back…",
        key="rollback-ask",
        on_click=ask_rollback,
        disabled=not st.session_state.get("rollback-batch"),
    )
    if pending and pending in ids:
        st.warning(
            f"Remove batch `{pending}` ({fmt.plain(str(names.get(pending)))}) from the shared "
            "store for every viewer?",
            icon=":material/warning:",
        )
        a, b = st.columns(2)
        a.button("Yes, roll it back", key="rollback-confirm", on_click=confirm_rollback)
        b.button("Cancel", key="rollback-cancel", on_click=cancel_rollback)


def body() -> None:
    if st.session_state.pop(GOTO, False):
        # the dataset just published, over its span; the sidebar's widgets put their values
        # (already set in session state) back into the URL ({} clears it without touching them)
        st.switch_page("app_pages/overview.py", query_params={})
    st.markdown("## :material/upload_file: Data")
    st.caption(
        "Upload CSV or Excel exports in your own column names. Andon proposes the table and the "
        "mapping; you check it, validate (private to you), review the rejected rows, then publish."
    )
    # any file is accepted here and checked on the server: a file of another type gets a clear
    # message on the page instead of the uploader's own silent refusal
    files = st.file_uploader(
        "CSV (.csv) or Excel (.xlsx) files",
        accept_multiple_files=True,
        key=UPLOADER,
        help=f"Up to {limit_mb()} MB per file.",
    )
    for rec in sync_uploads(files):
        try:
            one_upload(rec)
        except (
            Exception
        ) as e:  # one bad file never takes the page down (st.rerun is not an Exception)
            st.error(friendly(e, f"showing {fmt.plain(rec.name)}"), icon=":material/error:")
    st.divider()
    batch_list()


access.refuse("upload", "upload, publish or roll back data")
try:
    body()
except Exception:
    log.exception("data page failed")
    st.error(
        "Sorry — the Data page could not be shown right now. The rest of the dashboard keeps "
        "working; reload to try again.",
        icon=":material/error:",
    )
