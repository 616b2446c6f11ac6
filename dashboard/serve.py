"""Start the dashboard: `streamlit run dashboard/streamlit_app.py [streamlit options]`, with the
heavy modules imported and the shared engine built while the server starts, so the first viewer
does not wait for them.

    ANDON_STORE=data python dashboard/serve.py --server.port 8501
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "streamlit_app.py"


def warm_engine() -> None:
    """Build the shared engine (the same cached object the pages use) and the filters' values
    (kept by the engine). A failure here is harmless: the first page run builds it again and
    shows the error."""
    from dashboard import state
    from pipelines import views

    with contextlib.suppress(Exception):  # the page run reports it properly
        views.filter_options(state.shared_engine())


def settle_paths() -> None:
    """Run from the repository root whatever the working directory, so Streamlit reads the
    repository's .streamlit/config.toml (127.0.0.1, no tracebacks, no unescaped exports…); a
    relative ANDON_STORE / ANDON_TARGETS keeps meaning the path it named where it was started."""
    for var in ("ANDON_STORE", "ANDON_TARGETS"):
        if os.environ.get(var):
            os.environ[var] = str(Path(os.environ[var]).resolve())
    os.environ.setdefault("ANDON_STORE", str(ROOT / "data"))
    os.chdir(ROOT)


def streamlit_args(args: list[str]) -> list[str]:
    """The options for `streamlit run`: the caller's, bound to 127.0.0.1 unless it says where."""
    given = any(a.startswith("--server.address") for a in args)
    return [*args] if given else ["--server.address=127.0.0.1", *args]


def option_values(args: list[str], name: str) -> list[str]:
    """The values given to a `streamlit run` option (--name=value or --name value)."""
    out = []
    for i, a in enumerate(args):
        if a.startswith(f"--{name}="):
            out.append(a.split("=", 1)[1])
        elif a == f"--{name}" and i + 1 < len(args):
            out.append(args[i + 1])
    return out


def start_problem(args: list[str]) -> str | None:
    """Why the server must not start with these options (one line), or None: another address
    than this machine's without login; login without an access.toml that can be read."""
    from streamlit.runtime.secrets import secrets_singleton
    from streamlit.web import bootstrap

    from dashboard.access import bind_problem
    from pipelines.access import AccessError, access_path, load_access

    address = (option_values(args, "server.address") or [""])[-1]
    if files := option_values(args, "secrets.files"):  # where the login is configured
        bootstrap.load_config_options({"secrets_files": files})
    try:
        auth = secrets_singleton.load_if_toml_exists() and bool(secrets_singleton.get("auth"))
    except Exception as e:  # a secrets.toml that does not parse
        return f"cannot read .streamlit/secrets.toml: {e}"
    if not auth:
        return bind_problem(address, auth=False)
    try:
        load_access(access_path(os.environ["ANDON_STORE"]))
    except AccessError as e:
        return f"login is configured but the access rules cannot be used: {e}"
    return None


def main() -> int:
    settle_paths()
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    args = streamlit_args(sys.argv[1:])
    if problem := start_problem(args):
        print(f"andon: {problem}", file=sys.stderr)
        return 2
    # imports first, in this thread: importing streamlit, pandas and plotly from two threads at
    # once can see a partially initialised module
    from streamlit.web import cli

    from dashboard import cards, charts, state  # noqa: F401

    threading.Thread(target=warm_engine, name="andon-warm", daemon=True).start()
    sys.argv = ["streamlit", "run", str(APP), *args]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
