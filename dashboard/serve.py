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


def main() -> int:
    settle_paths()
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    # imports first, in this thread: importing streamlit, pandas and plotly from two threads at
    # once can see a partially initialised module
    from streamlit.web import cli

    from dashboard import cards, charts, state  # noqa: F401

    threading.Thread(target=warm_engine, name="andon-warm", daemon=True).start()
    sys.argv = ["streamlit", "run", str(APP), *streamlit_args(sys.argv[1:])]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
