"""Settings (admins): the files that steer a dataset — its targets, alert rules and shift calendar
— each shown as in effect (download it, edit, upload it back) and replaced in one step: the new
file is checked first (a bad one changes nothing and says what is wrong), then installed
atomically and written to the audit trail (pipelines/access/guard.py)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from dashboard import access, chrome, state
from dashboard import format as fmt
from pipelines import shifts
from pipelines.access import Actor, Refused, guard
from pipelines.alerts import files as alert_files
from pipelines.staging.sources import InputError
from pipelines.store import Store
from pipelines.views.targets import dataset_targets_path

FLASH = "_andon_settings_flash"


@dataclass(frozen=True)
class Setting:
    key: str
    title: str
    icon: str
    file_name: str
    mime: str
    help: str
    own: Callable[[Store], Path]  # the dataset's own file (it may not exist)
    in_effect: Callable[[Store], Path | None]  # its own, else a default; None: none at all
    install: Callable[[Store, Path, Actor], Path]  # pipelines.access.guard: checked, audited


SETTINGS = (
    Setting(
        "targets",
        "Targets",
        ":material/flag:",
        "targets.csv",
        "text/csv",
        "metric, plant, line, target, at_risk_band: one row per target (see targets.csv).",
        lambda s: s.targets_path,
        dataset_targets_path,
        guard.set_targets,
    ),
    Setting(
        "alerts",
        "Alert rules",
        ":material/notifications:",
        "alerts.toml",
        "application/toml",
        "[[rule]] and [[report]] tables, as in alerts.example.toml.",
        alert_files.rules_path,
        lambda s: alert_files.rules_path(s) if alert_files.rules_path(s).is_file() else None,
        guard.set_alert_rules,
    ),
    Setting(
        "shifts",
        "Shift calendar",
        ":material/schedule:",
        "shifts.toml",
        "application/toml",
        "[[shift]] tables, as in pipelines/contract/shifts.toml.",
        lambda s: s.root / shifts.FILE_NAME,
        lambda s: (
            s.root / shifts.FILE_NAME if (s.root / shifts.FILE_NAME).is_file() else shifts.DEFAULT
        ),
        guard.set_shifts,
    ),
)


def replace(setting: Setting, store: Store) -> None:
    """The upload's callback: check and install the file, or say why not (nothing changed)."""
    upload = st.session_state.get(f"settings-file-{setting.key}")
    if upload is None:
        return
    with tempfile.TemporaryDirectory(prefix="andon-settings-") as tmp:
        path = Path(tmp) / setting.file_name
        path.write_bytes(upload.getvalue())
        try:
            setting.install(store, path, access.actor())
        except (InputError, Refused) as e:
            st.session_state[FLASH] = (setting.key, "error", fmt.plain(str(e)))
            return
    st.session_state[FLASH] = (
        setting.key,
        "success",
        f"{setting.title} of dataset `{store.dataset}` replaced by {fmt.plain(upload.name)}; "
        "recorded in the audit trail.",
    )


def section(setting: Setting, store: Store) -> None:
    with st.container(border=True, key=f"settings-{setting.key}"):
        st.markdown(f"#### {setting.icon} {setting.title}")
        flash = st.session_state.get(FLASH)
        if flash and flash[0] == setting.key:
            st.session_state.pop(FLASH)
            getattr(st, flash[1])(flash[2])
        current = setting.in_effect(store)
        own = setting.own(store)
        if current is None:
            st.caption(f"None yet: {setting.help}")
        else:
            whose = "this dataset's own" if Path(current) == own else "the default"
            shown = str(current).replace("`", "'")  # a code span shows the path as it is
            st.caption(f"In effect: {whose}, `{shown}`")
            st.download_button(
                f"Download {setting.file_name}",
                data=Path(current).read_bytes(),
                file_name=setting.file_name,
                mime=setting.mime,
                key=f"settings-download-{setting.key}",
                icon=":material/download:",
                on_click="ignore",
            )
        st.file_uploader(
            f"Replace with a new {setting.file_name}",
            key=f"settings-file-{setting.key}",
            help=setting.help,
        )
        st.button(
            "Check and replace",
            key=f"settings-replace-{setting.key}",
            on_click=replace,
            args=(setting, store),
            disabled=st.session_state.get(f"settings-file-{setting.key}") is None,
        )


def body() -> None:
    store = state.dataset_store()
    st.markdown(f"## :material/settings: Settings of dataset `{store.dataset}`")
    st.caption(
        "Download a file, edit it, upload it back: it is checked before anything changes, "
        "replaces the old one in one step, and the change is written to the audit trail."
    )
    columns = st.columns(len(SETTINGS))
    for col, setting in zip(columns, SETTINGS, strict=True):
        with col, chrome.guard(setting.title.lower()):
            section(setting, store)


access.refuse("edit_targets", "change a dataset's targets, alert rules or shifts")
body()
