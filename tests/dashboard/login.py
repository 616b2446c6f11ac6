"""A real OpenID Connect provider for the login tests (oidc-provider-mock, served on a loopback
port by a thread of the test process), the dashboard's secrets pointing at it, and a browser login
as one of its users."""

from __future__ import annotations

import contextlib
import secrets
import warnings
from collections.abc import Iterator
from pathlib import Path

from dashboard.devserver import Server, free_port, serve

with warnings.catch_warnings():  # the provider imports authlib.jose, deprecated in authlib 1.7+
    warnings.simplefilter("ignore")
    from oidc_provider_mock import User, run_server_in_thread

CLIENT_ID, CLIENT_SECRET = "andon", "andon-test-secret"

# The people of the tests: the provider's predefined users, one button each on its login form.
PEOPLE = {
    "ana": {"email": "ana@porto.acme.example", "name": "Ana Porto", "groups": ["porto-floor"]},
    "luc": {"email": "luc@lyon.acme.example", "name": "Luc Lyon", "groups": []},
    "rita": {"email": "rita@acme.example", "name": "Rita Analyst", "groups": ["quality"]},
    "maria": {"email": "maria@acme.example", "name": "Maria Admin", "groups": []},
    "nobody": {"email": "nobody@elsewhere.example", "name": "No Grant", "groups": []},
}

# who sees what (pipelines/access): Ana a Porto viewer (by group), Luc a Lyon viewer (by
# domain), Rita an analyst of every plant (by group), Maria the admin (by address)
ACCESS_TOML = """
[[grant]]
role = "viewer"
groups = ["porto-floor"]
plants = ["Porto"]

[[grant]]
role = "viewer"
domains = ["lyon.acme.example"]
plants = ["Lyon"]

[[grant]]
role = "analyst"
groups = ["quality"]

[[grant]]
role = "admin"
users = ["maria@acme.example"]
"""


@contextlib.contextmanager
def provider() -> Iterator[str]:
    """The provider's base URL while it runs."""
    users = [User(sub=sub, claims=claims) for sub, claims in PEOPLE.items()]
    with run_server_in_thread(port=free_port(), user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


def secrets_toml(folder: Path, app_port: int, issuer: str) -> Path:
    """A secrets.toml configuring the dashboard's login against the provider."""
    path = folder / "secrets.toml"
    path.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        f'client_id = "{CLIENT_ID}"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
    )
    return path


@contextlib.contextmanager
def serve_with_login(store: Path, folder: Path, issuer: str, env=None) -> Iterator[Server]:
    """The dashboard over `store` with login against `issuer` and the tests' access.toml."""
    (store / "access.toml").write_text(ACCESS_TOML)
    port = free_port()
    secrets_file = secrets_toml(folder, port, issuer)
    args = (f"--secrets.files={secrets_file}",)
    with serve(store, folder / "streamlit.log", env=env, port=port, args=args) as server:
        yield server


def log_in(page, server: Server, who: str) -> None:
    """Log in as one of PEOPLE through the provider's form (back on the dashboard's home)."""
    page.goto(server.url)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name=who, exact=True).click()  # the provider's predefined user
    page.wait_for_url(f"{server.url}/**")
    page.get_by_text(PEOPLE[who]["email"]).first.wait_for()
