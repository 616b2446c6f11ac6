"""Role resolution: access.toml grants → one actor (role and plants), and what each role may do."""

from __future__ import annotations

import pytest

from pipelines.access import (
    LOCAL,
    AccessError,
    Actor,
    Refused,
    cli_actor,
    load_access,
    parse_access,
    require,
    roles,
)
from tests.conftest import ROOT

EXAMPLE = load_access(ROOT / "access.example.toml")


def actor(claims: dict, config=EXAMPLE) -> Actor | None:
    return config.resolve({"sub": "s-1", **claims})


def test_roles_are_ordered_and_each_has_the_capabilities_of_the_ones_before():
    r = roles()
    assert list(r) == ["viewer", "analyst", "admin"]
    assert r["viewer"].can == {"view"}
    assert r["analyst"].can == {"view", "upload", "publish_own", "note"}
    assert r["viewer"].can < r["analyst"].can < r["admin"].can
    assert {"roll_back", "edit_targets", "edit_alerts", "edit_shifts", "audit"} <= r["admin"].can


def test_a_domain_grant_makes_a_viewer_of_its_plants():
    a = actor({"email": "Ana@Porto.Acme.Example"})  # e-mail compared without case
    assert (a.id, a.role, a.plants) == ("ana@porto.acme.example", "viewer", frozenset({"Porto"}))
    assert not a.can("upload") and a.can("view")


def test_the_highest_role_and_the_plants_of_every_grant_apply():
    # viewer of Porto (domain) + analyst of every plant (group quality) → analyst, every plant
    a = actor({"email": "ana@porto.acme.example", "groups": ["quality"]})
    assert (a.role, a.plants) == ("analyst", None)
    config = parse_access(
        {
            "grant": [
                {"role": "viewer", "groups": ["porto"], "plants": ["Porto"]},
                {"role": "viewer", "groups": ["lyon"], "plants": ["Lyon"]},
            ]
        }
    )
    both = actor({"groups": ["porto", "lyon"]}, config)
    assert (both.role, both.plants) == ("viewer", frozenset({"Porto", "Lyon"}))


def test_nobody_named_gets_no_actor_and_a_subdomain_is_not_the_domain():
    assert actor({"email": "eve@elsewhere.example"}) is None
    assert actor({"email": "eve@x.porto.acme.example"}) is None
    assert actor({}) is None


def test_an_unverified_address_matches_no_e_mail_rule_but_groups_still_do():
    assert actor({"email": "maria@acme.example", "email_verified": False}) is None
    a = actor({"email": "maria@acme.example", "email_verified": False, "groups": ["quality"]})
    assert a.role == "analyst"
    assert actor({"email": "maria@acme.example"}).role == "admin"


def test_a_user_may_be_named_by_the_provider_subject():
    config = parse_access({"grant": [{"role": "admin", "users": ["S-42"]}]})
    assert config.resolve({"sub": "s-42"}).role == "admin"


def test_a_custom_groups_claim_is_read():
    config = parse_access(
        {"groups_claim": "roles", "grant": [{"role": "viewer", "groups": ["floor"]}]}
    )
    assert config.resolve({"sub": "x", "roles": ["floor"]}).role == "viewer"
    assert config.resolve({"sub": "x", "roles": "floor"}).role == "viewer"  # one group as text
    assert config.resolve({"sub": "x", "groups": ["floor"]}) is None


@pytest.mark.parametrize(
    ("grant", "message"),
    [
        ({"role": "boss", "users": ["a@b.c"]}, "role must be one of viewer, analyst, admin"),
        ({"role": "viewer"}, "names nobody"),
        ({"role": "viewer", "users": ["a@b.c"], "plants": []}, "plants is empty"),
        ({"role": "viewer", "domains": ["@acme.example"]}, "without '@'"),
        ({"role": "viewer", "users": ["a@b.c"], "plant": ["P"]}, "unknown key 'plant'"),
        ({"role": "viewer", "users": [""]}, "users must be a list of non-empty names"),
    ],
)
def test_a_bad_grant_is_an_error_naming_it(grant, message):
    with pytest.raises(AccessError, match="grant 1") as e:
        parse_access({"grant": [grant]})
    assert message in str(e.value)


def test_a_file_that_is_missing_or_not_toml_is_a_one_line_error(tmp_path):
    with pytest.raises(AccessError, match="no such file"):
        load_access(tmp_path / "access.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[grant]\nrole = 1\n")
    with pytest.raises(AccessError, match="cannot be read"):
        load_access(bad)


def test_require_refuses_with_who_and_which_role_it_needs():
    viewer = actor({"email": "ana@porto.acme.example"})
    with pytest.raises(Refused) as e:
        require(viewer, "roll_back", "roll back batch B1")
    assert str(e.value) == (
        "Not allowed to roll back batch B1: ana@porto.acme.example is a viewer; "
        "this needs the role admin."
    )
    with pytest.raises(Refused, match="nobody is logged in"):
        require(None, "view")
    assert require(LOCAL, "roll_back") is LOCAL
    assert cli_actor().can("audit") and cli_actor().via == "cli"


def test_a_scope_is_within_a_plant_viewers_sight_only_when_it_names_their_plants():
    porto = Actor("ana", "viewer", frozenset({"Porto"}))
    assert porto.sees_scope({"plant": ["Porto"], "line": ["POR-1"]})
    assert not porto.sees_scope({"plant": ["Porto", "Lyon"]})
    assert not porto.sees_scope({})  # the whole dataset is every plant
    assert not porto.sees_scope({"line": ["POR-1"]})
    assert LOCAL.sees_scope({})
