"""alerts.toml as data: a good file parses into rules, every kind of mistake is one line naming the
rule and what is wrong, and the example file of the repository is valid."""

import textwrap

import pytest

from pipelines.alerts.rules import load_config
from pipelines.staging.sources import InputError
from tests.conftest import ROOT

GOOD = """
    [smtp]
    host = "127.0.0.1"
    port = 2525
    from = "andon@example.com"
    user = "andon"
    password_env = "ANDON_TEST_SMTP_PASSWORD"

    [webhook]
    timeout_s = 2

    [[rule]]
    id = "scrap-p"
    kpi = "scrap_rate"
    scope = { plant = "P", line = ["L2", "L1"] }
    condition = "threshold"
    op = ">="
    value = 0.05
    for = 3
    webhooks = ["http://127.0.0.1:9/hook"]
    emails = ["lead@example.com"]

    [[rule]]
    id = "oee-signal"
    kpi = "oee"
    condition = "signal"
    rules = ["2", "1"]

    [[rule]]
    id = "otd"
    kpi = "otd"
    condition = "off_target"
"""


def write(tmp_path, text: str):
    path = tmp_path / "alerts.toml"
    path.write_text(textwrap.dedent(text))
    return path


def rule(extra: str, rid: str = "r1") -> str:
    """One rule on scrap rate with `extra` keys (a threshold unless extra says otherwise)."""
    head = f'[[rule]]\nid = "{rid}"\nkpi = "scrap_rate"\n'
    if "condition" not in extra:
        head += 'condition = "threshold"\nop = ">"\nvalue = 0.1\n'
    return head + textwrap.dedent(extra)


def error_of(tmp_path, text: str) -> str:
    with pytest.raises(InputError) as e:
        load_config(write(tmp_path, text))
    return str(e.value)


def test_a_good_file_parses_into_rules_with_defaults(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    scrap, signal, otd = config.rules
    assert scrap.scope == (("line", ("L1", "L2")), ("plant", ("P",)))
    assert scrap.filters == {"line": ["L1", "L2"], "plant": ["P"]}
    assert (scrap.condition, scrap.op, scrap.value, scrap.periods) == ("threshold", ">=", 0.05, 3)
    assert scrap.webhooks == ("http://127.0.0.1:9/hook",) and scrap.emails == ("lead@example.com",)
    assert signal.signal_rules == ("1", "2") and signal.periods == 1
    assert otd.window_days == 30 and otd.scope == ()
    assert config.smtp.port == 2525 and config.smtp.password_env == "ANDON_TEST_SMTP_PASSWORD"
    assert config.webhook_timeout_s == 2.0


def test_the_example_file_of_the_repository_is_valid():
    config = load_config(ROOT / "alerts.example.toml")
    assert [r.condition for r in config.rules] == ["off_target", "signal", "threshold"]


def test_an_edited_condition_changes_the_fingerprint_but_a_new_recipient_does_not(tmp_path):
    a = load_config(write(tmp_path, rule('for = 2\nwebhooks = ["http://a.example/x"]')))
    b = load_config(write(tmp_path, rule("for = 2")))
    c = load_config(write(tmp_path, rule("for = 3")))
    assert a.rules[0].fingerprint == b.rules[0].fingerprint != c.rules[0].fingerprint


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (rule('kpi = "oeee"').replace('kpi = "scrap_rate"\n', ""), "rule 'r1': unknown KPI 'oeee'"),
        (rule('scope = { plnt = "P" }'), "rule 'r1': scope: unknown dimension 'plnt'"),
        (rule('scope = { region = "North" }'), "scope: unknown dashboard filter 'region'"),
        (rule('scope = { customer = "C1" }'), "scrap_rate is not split by customer"),
        (rule('condition = "below"'), "unknown condition 'below'; use one of: off_target"),
        (rule('condition = "off_target"\nop = ">"'), "op and value belong to a threshold"),
        (rule('condition = "signal"\nrules = ["5"]'), "unknown control-chart rule 5"),
        (rule("").replace('op = ">"', 'op = "=="'), "threshold op '=='"),
        (rule("").replace("value = 0.1", 'value = "high"'), "threshold value 'high' is not a"),
        (rule("for = 0"), "for = 0: expected a whole number of days from 1 to 30"),
        (rule("for = 40"), "for = 40: expected a whole number of days from 1 to 30"),
        (rule('webhooks = ["ftp://x.example"]'), "webhook 'ftp://x.example' is not an http(s)"),
        (rule('emails = ["nobody"]'), "emails: 'nobody' is not an e-mail address"),
        (rule('emails = ["a@b.example"]'), "sends e-mail but the file has no [smtp] settings"),
        (rule("fro = 2"), "unknown key 'fro' in a rule"),
        (rule("") + rule("", "r1"), "two rules with the id 'r1'"),
        (rule("", "R 1"), "rule 1: id 'R 1': use 1–64 lower-case letters"),
        ('[smtp]\nhost = "h"\nfrom = "a@b.example"\npassword = "x"\n', "never holds a password"),
        ('[smtp]\nhost = "h"\nfrom = "a@b.example"\nuser = "u"\n', "user needs password_env"),
        ("[[rule]\nid=", "alerts.toml: not valid TOML"),
    ],
)
def test_each_mistake_is_one_line_naming_the_rule_and_the_problem(tmp_path, text, says):
    message = error_of(tmp_path, text)
    assert message.startswith("alerts.toml: ")
    assert says in message
    assert "\n" not in message
