"""Start the dashboard: `streamlit run dashboard/streamlit_app.py [streamlit options]`, with the
heavy modules imported and the shared engine built while the server starts, so the first viewer
does not wait for them.

    ANDON_STORE=data python dashboard/serve.py --server.port 8501
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "streamlit_app.py"


def warm() -> None:
    """Import what every page needs and build the shared engine (the same cached object the
    pages use). A failure here is harmless: the first page run builds it and shows the error."""
    try:
        import plotly.graph_objects  # noqa: F401

        from dashboard import cards, charts, state  # noqa: F401

        state.shared_engine()
    except Exception:  # noqa: BLE001 - the page run reports it properly
        pass


def main() -> int:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    threading.Thread(target=warm, name="andon-warm", daemon=True).start()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP), *sys.argv[1:]]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
