"""Who may see and do what: the roles (pipelines/contract/roles.toml), the deployment's grants
(access.toml: people → role and plants), and the actor every guarded operation is asked for.

    config = load_access(path)            # AccessConfig, checked (AccessError names the problem)
    actor = config.resolve(claims)        # Actor | None (logged in, but no grant names them)
    require(actor, "roll_back")           # raises Refused with a sentence a person can read

Without login configured, the dashboard runs in local mode and acts as `LOCAL` (an admin on
127.0.0.1); the CLI acts as `cli_actor()` (an admin: it has the store's files anyway).
"""

from __future__ import annotations

import getpass
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pipelines.staging.sources import InputError

ROLES_FILE = Path(__file__).resolve().parents[1] / "contract" / "roles.toml"
ACCESS_FILE = "access.toml"  # in the store's root, unless ANDON_ACCESS names another file
_GRANT_KEYS = {"role", "users", "domains", "groups", "plants"}
_TOP_KEYS = {"groups_claim", "grant"}


class AccessError(InputError):
    """access.toml (or roles.toml) cannot be used as written."""


class Refused(PermissionError):
    """An operation the actor's role does not allow (the message says who, what and why)."""


@dataclass(frozen=True)
class Role:
    name: str
    label: str
    help: str
    rank: int  # 0 = the first role of roles.toml; a role has every capability of lower ranks
    can: frozenset[str]  # its own and every lower role's capabilities


@cache
def roles() -> dict[str, Role]:
    """The roles of roles.toml, in order (each with the capabilities of the ones before it)."""
    data = tomllib.loads(ROLES_FILE.read_text())
    out: dict[str, Role] = {}
    can: set[str] = set()
    for rank, (name, spec) in enumerate(data["role"].items()):
        can |= set(spec["can"])
        out[name] = Role(name, spec["label"], spec["help"], rank, frozenset(can))
    return out


def capabilities() -> set[str]:
    return set().union(*(r.can for r in roles().values()))


@dataclass(frozen=True)
class Actor:
    """Someone using Andon: who (`id`: e-mail, else the provider's subject; `cli:<user>`;
    `local`), their role, the plants they see (None: every plant) and how they came in."""

    id: str
    role: str
    plants: frozenset[str] | None = None
    name: str = ""
    via: str = "login"  # login | local | cli | service

    def can(self, capability: str) -> bool:
        if capability not in capabilities():
            raise ValueError(f"unknown capability {capability!r}")
        return capability in roles()[self.role].can

    @property
    def role_label(self) -> str:
        return roles()[self.role].label

    @property
    def shown(self) -> str:
        """How the audit trail and the page name them: 'Ana Silva <ana@…>' or the id."""
        return f"{self.name} <{self.id}>" if self.name and self.name != self.id else self.id

    def sees_plant(self, plant: str) -> bool:
        return self.plants is None or plant in self.plants

    def sees_scope(self, filters: Mapping[str, Iterable[str]]) -> bool:
        """Whether something scoped by these filters (an alert rule, an action note) lies within
        the plants the actor sees: always for every-plant actors, else only when its plant
        filter names plants they all see (a note on the whole dataset is about every plant)."""
        if self.plants is None:
            return True
        plants = list(dict(filters).get("plant") or ())
        return bool(plants) and all(p in self.plants for p in plants)


LOCAL = Actor(id="local", role="admin", name="local mode", via="local")
# who alerts and scheduled reports draw their attached views as (pipelines/access/tickets.py):
# the rules and their recipients are an admin's choice, so every plant
ALERTS = Actor(id="alerts", role="viewer", name="alerts and reports", via="service")


def cli_actor() -> Actor:
    """The command line: an admin on the local store (it can read and write the files anyway)."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return Actor(id=f"cli:{user}", role="admin", name=f"command line ({user})", via="cli")


def require(actor: Actor | None, capability: str, what: str = "") -> Actor:
    """`actor`, if their role allows `capability`; else Refused saying so."""
    doing = what or capability.replace("_", " ")
    if actor is None:
        raise Refused(f"Not allowed to {doing}: nobody is logged in.")
    if not actor.can(capability):
        allowed = [r.label.lower() for r in roles().values() if capability in r.can]
        raise Refused(
            f"Not allowed to {doing}: {actor.id} is a {actor.role_label.lower()}; "
            f"this needs the role {' or '.join(allowed)}."
        )
    return actor


# ------------------------------------------------------------------------------------ grants


@dataclass(frozen=True)
class Grant:
    role: str
    users: frozenset[str] = frozenset()  # lower-case e-mails or subjects
    domains: frozenset[str] = frozenset()  # lower-case
    groups: frozenset[str] = frozenset()
    plants: frozenset[str] | None = None  # None: every plant
    number: int = 0  # its place in the file (1 = first), for messages

    def matches(self, ident: Identity) -> bool:
        if ident.subject.lower() in self.users:
            return True
        domain = ident.email.rsplit("@", 1)[-1]
        if (
            ident.email
            and ident.email_verified
            and (ident.email in self.users or domain in self.domains)
        ):
            return True
        return bool(self.groups & ident.groups)


@dataclass(frozen=True)
class Identity:
    """What the identity provider said about a person (the claims Andon reads)."""

    subject: str
    email: str = ""  # lower-case
    email_verified: bool = True
    name: str = ""
    groups: frozenset[str] = frozenset()

    @staticmethod
    def from_claims(claims: Mapping, groups_claim: str = "groups") -> Identity:
        groups = claims.get(groups_claim) or ()
        if isinstance(groups, str):
            groups = [groups]
        return Identity(
            subject=str(claims.get("sub") or ""),
            email=str(claims.get("email") or "").strip().lower(),
            email_verified=claims.get("email_verified", True) is not False,
            name=str(claims.get("name") or ""),
            groups=frozenset(str(g) for g in groups),
        )


@dataclass(frozen=True)
class AccessConfig:
    grants: tuple[Grant, ...]
    groups_claim: str = "groups"
    path: Path | None = None

    def matching(self, ident: Identity) -> list[Grant]:
        return [g for g in self.grants if g.matches(ident)]

    def resolve_identity(self, ident: Identity) -> Actor | None:
        """The actor a person is: the highest role of the grants naming them and the plants of
        all of them (every plant if one leaves plants out); None when no grant names them."""
        found = self.matching(ident)
        if not found or not ident.subject:
            return None
        rank = {name: r.rank for name, r in roles().items()}
        role = max((g.role for g in found), key=rank.__getitem__)
        plants: frozenset[str] | None = frozenset()
        for g in found:
            plants = None if plants is None or g.plants is None else plants | g.plants
        return Actor(
            id=ident.email or ident.subject, role=role, plants=plants, name=ident.name, via="login"
        )

    def resolve(self, claims: Mapping) -> Actor | None:
        """The actor for an identity provider's claims (st.user), or None."""
        return self.resolve_identity(Identity.from_claims(claims, self.groups_claim))


def access_path(store_root: Path | str) -> Path:
    """Where the deployment's grants are: $ANDON_ACCESS, else <store>/access.toml."""
    env = os.environ.get("ANDON_ACCESS")
    return Path(env) if env else Path(store_root) / ACCESS_FILE


def load_access(path: Path | str) -> AccessConfig:
    """access.toml, checked: AccessError naming the file, the grant and the problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AccessError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise AccessError(f"{path}: cannot be read: {e}") from None
    return parse_access(data, path)


def parse_access(data: Mapping, path: Path | None = None) -> AccessConfig:
    where = str(path) if path else "access.toml"
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise AccessError(f"{where}: unknown setting {sorted(unknown)[0]!r}; use {_TOP_KEYS}")
    claim = data.get("groups_claim", "groups")
    if not isinstance(claim, str) or not claim:
        raise AccessError(f"{where}: groups_claim must be the name of a claim")
    raw = data.get("grant", [])
    if not isinstance(raw, list):
        raise AccessError(f"{where}: write each grant as [[grant]]")
    grants = tuple(_grant(g, i, where) for i, g in enumerate(raw, start=1))
    return AccessConfig(grants=grants, groups_claim=claim, path=path)


def _grant(spec: Mapping, number: int, where: str) -> Grant:
    at = f"{where}: grant {number}"
    if not isinstance(spec, Mapping):
        raise AccessError(f"{at}: write each grant as a [[grant]] table")
    unknown = set(spec) - _GRANT_KEYS
    if unknown:
        raise AccessError(f"{at}: unknown key {sorted(unknown)[0]!r}; use {sorted(_GRANT_KEYS)}")
    role = spec.get("role")
    if role not in roles():
        raise AccessError(f"{at}: role must be one of {', '.join(roles())}, not {role!r}")
    lists = {k: _names(spec, k, at) for k in ("users", "domains", "groups")}
    if not any(lists.values()):
        raise AccessError(f"{at}: names nobody; give users, domains or groups")
    plants = None
    if "plants" in spec:
        plants = frozenset(_names(spec, "plants", at, lower=False))
        if not plants:
            raise AccessError(f"{at}: plants is empty; leave it out for every plant")
    if any("@" in d for d in lists["domains"]):
        raise AccessError(f"{at}: a domain is written without '@' (acme.example)")
    return Grant(
        role=role,
        users=frozenset(lists["users"]),
        domains=frozenset(lists["domains"]),
        groups=frozenset(_names(spec, "groups", at, lower=False)),
        plants=plants,
        number=number,
    )


def _names(spec: Mapping, key: str, at: str, lower: bool = True) -> list[str]:
    value = spec.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise AccessError(f"{at}: {key} must be a list of non-empty names")
    return [v.strip().lower() if lower else v.strip() for v in value]
