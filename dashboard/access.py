"""Who is looking: the login gate (Streamlit's OpenID Connect login, st.login / st.user), local
mode when no login is configured, and the actor every page asks before it shows or does anything.

The rules live in pipelines.access (roles, grants, plants); this module only finds the person and
draws the login, the refusals and the identity line of the sidebar.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import streamlit as st

from pipelines.access import (
    LOCAL,
    AccessConfig,
    AccessError,
    Actor,
    access_path,
    load_access,
    tickets,
)

log = logging.getLogger("andon.access")
ACTOR = "_andon_actor"  # a snapshot ticket's actor, kept for the session it opened
LOCAL_HOSTS = ("localhost", "")


# ------------------------------------------------------------------------------ configuration


def secrets_auth() -> dict:
    """The [auth] table of Streamlit's secrets ({} when login is not configured)."""
    try:
        auth = st.secrets.get("auth")
    except Exception:  # no secrets file, or one that cannot be read: no login configured
        return {}
    return dict(auth) if auth else {}


def auth_configured() -> bool:
    return bool(secrets_auth())


def is_local_address(address: str | None) -> bool:
    """Whether the server listens on this machine only (127.0.0.0/8, ::1, localhost)."""
    text = (address or "").strip().strip("[]")
    if text == "localhost":
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False  # "" (every interface), a host name, 0.0.0.0


def bind_problem(address: str | None, auth: bool) -> str | None:
    """Why the server must not start on `address` (None when it may)."""
    if auth or is_local_address(address):
        return None
    where = address or "every interface"
    return (
        f"refusing to listen on {where} without login: configure [auth] in "
        ".streamlit/secrets.toml and an access.toml (docs/access.md), or bind to 127.0.0.1"
    )


def access_file() -> Path:
    from dashboard import state

    return access_path(state.store_path())


@st.cache_resource(show_spinner=False, max_entries=4)
def _config(path: str, stamp: tuple) -> AccessConfig:
    return load_access(path)


def access_config() -> AccessConfig:
    """The deployment's grants, read again when access.toml changes (AccessError if unusable)."""
    path = access_file()
    try:
        st_ = path.stat()
    except FileNotFoundError:
        raise AccessError(
            f"{path}: no such file — with login configured, access.toml says who sees what"
        ) from None
    return _config(str(path), (st_.st_mtime_ns, st_.st_size))


# ------------------------------------------------------------------------------ the person


def _claims() -> dict:
    user = st.user
    if not user.get("is_logged_in", False):
        return {}
    return dict(user.to_dict())


def ticket_actor() -> Actor | None:
    """The viewer a snapshot ticket in a print view's URL stands for (kept for the session)."""
    held = st.session_state.get(ACTOR)
    if held is not None:
        return held
    token = st.query_params.get(tickets.PARAM)
    if not token or st.query_params.get("print") != "1":
        return None
    from dashboard import state

    found = tickets.verify(state.store_path(), token)
    if found is not None:
        st.session_state[ACTOR] = found
    return found


def current_actor() -> Actor | None:
    """Who this session acts as: LOCAL without login; else the logged-in person's grants
    (None: not logged in, or no grant names them). AccessError if access.toml is unusable."""
    if not auth_configured():
        return LOCAL
    by_ticket = ticket_actor()
    if by_ticket is not None:
        return by_ticket
    claims = _claims()
    return access_config().resolve(claims) if claims else None


def actor() -> Actor:
    """The gate's actor (pages run only after `gate` let the session in)."""
    found = current_actor()
    if found is None:  # not reachable through the router; a page run alone refuses
        st.stop()
    return found


# ------------------------------------------------------------------------------ drawing


def gate() -> Actor:
    """Let the session in, or draw why not and stop: the login, no grant, a bad access.toml."""
    try:
        found = current_actor()
    except AccessError as e:
        log.error("access.toml: %s", e)
        st.error(
            f"Andon's access rules cannot be read, so nobody sees anything: {e}. "
            "An admin fixes access.toml (check it with `python -m pipelines access who EMAIL`).",
            icon=":material/lock:",
        )
        st.stop()
    if found is not None:
        return found
    if not st.user.get("is_logged_in", False):
        _login_page()
    else:
        _no_grant_page()
    st.stop()


def _providers() -> list[str | None]:
    """None for the [auth] default provider, else the names of its [auth.<name>] tables."""
    named = [k for k, v in secrets_auth().items() if isinstance(v, dict)]
    return named or [None]


def _login_page() -> None:
    _, mid, _ = st.columns([1, 2, 1])
    with mid, st.container(border=True):
        st.markdown("## :material/monitoring: Andon")
        st.markdown(
            "Operations KPIs for your plants. Log in with your company account to continue."
        )
        for provider in _providers():
            label = "Log in" if provider is None else f"Log in with {provider}"
            if st.button(label, key=f"login-{provider}", type="primary", icon=":material/login:"):
                st.login(provider) if provider else st.login()


def _no_grant_page() -> None:
    who = st.user.get("email") or st.user.get("sub") or "this account"
    _, mid, _ = st.columns([1, 2, 1])
    with mid, st.container(border=True):
        st.markdown("## :material/lock: No access yet")
        st.markdown(
            f"You are logged in as **{who}**, but Andon's access rules give this account no role. "
            "Ask an Andon admin to add you to access.toml."
        )
        if st.button("Log out", key="logout-nogrant", icon=":material/logout:"):
            st.logout()


def identity_line(who: Actor) -> None:
    """The sidebar's line on who is looking (and the log-out button), or the local-mode note."""
    if who.via == "local":
        address = st.get_option("server.address") or "127.0.0.1"
        st.caption(
            ":material/lock_open: **Local mode, no login**",
            help=f"Served on this machine only ({address}): whoever opens it is an admin. "
            "To share it, configure a login and access.toml (docs/access.md).",
        )
        return
    plants = "every plant" if who.plants is None else ", ".join(sorted(who.plants))
    st.caption(f":material/person: {who.shown} · {who.role_label} · {plants}")
    if who.via == "login" and st.button("Log out", key="logout", icon=":material/logout:"):
        st.logout()


def refuse(capability: str, what: str) -> None:
    """Draw a refusal for a page the actor's role does not open, and stop."""
    who = actor()
    if who.can(capability):
        return
    st.warning(
        f"Your role ({who.role_label.lower()}) cannot {what}. Ask an Andon admin if you need to.",
        icon=":material/lock:",
    )
    st.stop()
