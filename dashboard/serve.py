"""Start the dashboard: `streamlit run dashboard/streamlit_app.py [streamlit options]`, with the
heavy modules imported and the shared engine built while the server starts, so the first viewer
does not wait for them.

    ANDON_STORE=data python dashboard/serve.py --server.port 8501
"""

from __future__ import annotations

import contextlib
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "streamlit_app.py"


def warm_engine() -> None:
    """Build the shared engine (the same cached object the pages use). A failure here is
    harmless: the first page run builds it again and shows the error."""
    from dashboard import state

    with contextlib.suppress(Exception):  # the page run reports it properly
        state.shared_engine()


def main() -> int:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    # imports first, in this thread: importing streamlit, pandas and plotly from two threads at
    # once can see a partially initialised module
    from streamlit.web import cli

    from dashboard import cards, charts, state  # noqa: F401

    threading.Thread(target=warm_engine, name="andon-warm", daemon=True).start()
    sys.argv = ["streamlit", "run", str(APP), *sys.argv[1:]]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
