"""Upload expressions: an allow-listed grammar over the file's columns, computed by DuckDB."""

import random
import re

import pytest

from pipelines.uploads.expressions import Expr, ExpressionError, evaluate, parse, to_sql
from tests.pipelines.uploads.test_mapping import raw_of

HEADERS = ["Planned Time", "Run Time", "produced_qty", "Good Qty", "Output", "Scrap"]


def run(text, header, rows, decimal="."):
    return evaluate(parse(text, header), raw_of(header, rows), decimal)


# ------------------------------------------------------------------------------------- results


def test_a_difference_of_seconds_divided_by_sixty_gives_minutes():
    header = ["Planned_Production_Time_Seconds", "Actual_Run_Time_Seconds"]
    texts, problems = run(
        "(Planned_Production_Time_Seconds - Actual_Run_Time_Seconds) / 60",
        header,
        [["3600", "3000"], ["7200", "5400"], ["90", "0"]],
    )
    # (3600 - 3000) / 60 = 10; (7200 - 5400) / 60 = 30; 90 / 60 = 1.5
    assert texts == ["10", "30", "1.5"]
    assert problems == {}


def test_bracketed_names_allow_spaces_parentheses_and_an_escaped_bracket():
    header = ["Run time (h)", "Qty [pcs]"]
    texts, _ = run("[Run time (h)] * 60 + [Qty [pcs]]]", header, [["1.5", "2"]])
    assert texts == ["92"]  # 1.5 × 60 + 2


def test_a_bare_name_matches_a_header_of_another_case_when_only_one_does():
    assert parse("OUTPUT - scrap", HEADERS).columns == ["Output", "Scrap"]
    assert parse("[run time]", HEADERS).columns == ["Run Time"]
    with pytest.raises(ExpressionError, match="write it exactly as in the file"):
        parse("qty", ["Qty", "QTY"])
    assert parse("QTY", ["Qty", "QTY"]).columns == ["QTY"]  # the exact one wins


def test_coalesce_takes_the_first_value_that_is_not_empty():
    texts, _ = run(
        "coalesce([Good Qty], [Output] - [Scrap])",
        ["Good Qty", "Output", "Scrap"],
        [["8", "10", "3"], ["", "10", "3"], ["", "", "3"]],
    )
    assert texts == ["8", "7", ""]  # 8; 10 - 3; 3 without an output is empty


def test_round_abs_least_greatest_and_nullif():
    header = ["a", "b"]
    rows = [["10", "3"], ["-4", "0"]]
    assert run("round(a / b, 2)", header, rows)[0] == ["3.33", ""]  # 3.333…; b = 0 → empty
    assert run("round(a)", ["a"], [["2.5"], ["-2.5"]])[0] == ["3", "-3"]  # half away from 0
    assert run("round(a, -2)", ["a"], [["1250"]])[0] == ["1300"]  # to the hundred
    assert run("abs(a)", header, rows)[0] == ["10", "4"]
    assert run("least(a, b)", header, rows)[0] == ["3", "-4"]
    assert run("greatest(a, b, 5)", header, rows)[0] == ["10", "5"]
    assert run("nullif(b, 0)", header, rows)[0] == ["3", ""]


def test_a_division_by_zero_is_empty():
    texts, problems = run("a / b", ["a", "b"], [["1", "0"], ["1", "4"], ["1", ""]])
    assert texts == ["", "0.25", ""]
    assert problems == {}


def test_results_are_rounded_to_nine_decimals():
    assert run("a / 3", ["a"], [["1"], ["2"]])[0] == ["0.333333333", "0.666666667"]


def test_unicode_operators_and_precedence():
    # 2 − 3 × 4 ÷ 5 = 2 − 2.4 = −0.4; −a × 2 + 1 with a = 3 → −5
    e = parse("2 − 3 × 4 ÷ 5", [])
    assert e.text == "2 - 3 * 4 / 5"
    assert run("2 − 3 × 4 ÷ 5", ["a"], [["3"]])[0] == ["-0.4"]
    assert run("-a * 2 + 1", ["a"], [["3"]])[0] == ["-5"]
    assert run("a - (1 - a)", ["a"], [["3"]])[0] == ["5"]  # 3 - (1 - 3) = 3 + 2
    assert run("a - 1 - a", ["a"], [["3"]])[0] == ["-1"]  # (3 - 1) - 3


def test_a_constant_gives_a_value_for_every_row():
    assert run("60", ["a"], [["x"], [""]]) == (["60", "60"], {})


def test_values_are_read_with_the_files_decimal_comma():
    texts, _ = run("a * 60", ["a"], [["1,5"], ["1.234"]], decimal=",")
    assert texts == ["90", "74040"]  # 1,5 × 60; 1.234 is 1234 with a decimal comma


def test_an_unreadable_value_is_kept_as_written_and_reported_with_its_row():
    texts, problems = run(
        "[Run Time] + b", ["Run Time", "b"], [["1", "2"], [" abc ", "x"], ["2", "y"]]
    )
    assert texts == ["3", "abc", "y"]
    assert problems == {
        1: "'abc' in [Run Time] is not a number",  # the first column named wins
        2: "'y' in b is not a number",
    }


def test_a_value_too_large_for_the_decimal_type_is_reported():
    texts, problems = run("a", ["a"], [["1e30"]])
    assert (texts, problems) == (["1e30"], {0: "'1e30' in a is too large"})


def test_a_result_out_of_range_is_empty_rather_than_an_error():
    assert run("a * a", ["a"], [["1000000000000000"], ["2"]])[0] == ["", "4"]  # 1e30


def test_evaluating_over_a_file_without_the_column_names_it():
    with pytest.raises(ExpressionError, match="unknown column 'Output'"):
        evaluate(parse("Output", HEADERS), raw_of(["a", "b"], [["1", "2"]]))


# ------------------------------------------------------------------------------ the tree's views


def test_a_single_column_is_a_plain_mapping():
    assert parse("produced_qty", HEADERS).is_column
    assert parse(" [produced_qty] ", HEADERS).is_column
    assert not parse("produced_qty * 1", HEADERS).is_column


def test_columns_lists_each_header_once_in_first_use_order():
    e = parse("coalesce([Good Qty], Output - Scrap) / Output", HEADERS)
    assert e.columns == ["Good Qty", "Output", "Scrap"]


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("([Planned Time]-[Run Time])/60", "([Planned Time] - [Run Time]) / 60"),
        ("[produced_qty]", "produced_qty"),
        ("COALESCE([Good Qty],[Output]-[Scrap])", "coalesce([Good Qty], Output - Scrap)"),
        ("Output - (Scrap - 1)", "Output - (Scrap - 1)"),
        ("(Output - Scrap) - 1", "Output - Scrap - 1"),
        ("Output / (Scrap * 2)", "Output / (Scrap * 2)"),
        ("-(Output + 1)", "-(Output + 1)"),
        ("- -Output", "Output"),
        ("Output - -5", "Output - -5"),
        ("-(5) * 2.50", "-5 * 2.5"),
        ("round(Output, 2)", "round(Output, 2)"),
    ],
)
def test_text_is_canonical_and_parses_back_to_the_same_tree(written, canonical):
    e = parse(written, HEADERS)
    assert e.text == canonical
    assert parse(e.text, HEADERS) == e


def test_random_inputs_raise_only_expression_errors_and_parsed_ones_round_trip():
    pieces = ["a", "[b c]", "1", "2.5", "-", "+", "*", "/", "(", ")", ",", " ", "abs(", "round("]
    pieces += ["coalesce(", "'", ";", "--", "[", "]", "×", "x"]
    rng = random.Random(7)
    parsed = 0
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        try:
            e = parse(text, ["a", "b c"])
        except ExpressionError:
            continue
        parsed += 1
        assert parse(e.text, ["a", "b c"]) == e, text
    assert parsed > 50


# ------------------------------------------------------------------------------------------- SQL


def test_the_sql_holds_only_the_callers_identifiers():
    header = ['x"; drop table t; --', "ok"]
    e = parse('[x"; drop table t; --] / 60', header)
    sql = to_sql(e, {'x"; drop table t; --': "c0"})
    assert re.findall(r'"[^"]*"', sql) == ['"c0"']
    assert re.fullmatch(r'[a-z0-9 ().,/*+"-]*', sql) and "--" not in sql and "drop" not in sql
    assert "nullif(" in sql  # a zero divisor gives NULL
    texts, _ = evaluate(e, raw_of(header, [["120", "1"]]))
    assert texts == ["2"]


def test_to_sql_refuses_what_is_not_an_identifier_a_number_or_an_allowed_function():
    e = parse("a + 1", ["a"])
    with pytest.raises(ValueError):
        to_sql(e, {"a": 'c0"; drop table t'})
    with pytest.raises(ValueError):
        to_sql(e, {})
    with pytest.raises(ValueError):  # trees built by hand are checked too
        to_sql(Expr("exec", args=(e,)), {"a": "c0"})
    with pytest.raises(ValueError):
        to_sql(Expr("number", "1); drop table t; --"), {})


# ---------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty expression"),
        ("   ", "empty expression"),
        ("; drop table x", "unexpected ';' at position 1"),
        ("a; select 1", "unexpected ';' at position 2"),
        ("'a' || 'b'", "text in quotes is not allowed: use [Column name]"),
        ('"x"', "text in quotes is not allowed"),
        ("`x`", "text in quotes is not allowed"),
        ("a -- b", "'--' at position 3: comments are not allowed"),
        ("a /* b */", "'/*' at position 3: comments are not allowed"),
        ("a || b", "unexpected '|' at position 3"),
        ("a = 1", "unexpected '=' at position 3"),
        ("exec(a)", "unknown function 'exec' (use: coalesce, abs, round, least, greatest, nullif)"),
        ("Foo + a", "unknown column 'Foo' (the file has: a, b, Run Time)"),
        ("Run + 1", "write [Run Time] for a name with spaces"),
        ("[Run", "'[' at position 1 is never closed"),
        ("[]", "empty column name '[]' at position 1"),
        ("(a + b", "unbalanced parenthesis: '(' at position 1 is never closed"),
        ("a + b)", "unbalanced parenthesis: ')' at position 6 has no '('"),
        ("a b", "unexpected 'b' at position 3 (an operator is missing?)"),
        ("a, b", "unexpected ',' at position 2"),
        ("a +", "the expression ends too early"),
        ("1e3", "'1e3' at position 1 is not a number"),
        (".5", "'.5' at position 1 is not a number"),
        ("0.0000000001", "the number at position 1 has too many digits"),
        ("abs(a, b)", "abs at position 1 takes 1 argument, not 2"),
        ("nullif(a)", "nullif at position 1 takes 2 arguments, not 1"),
        ("coalesce()", "coalesce at position 1 takes at least 1 argument, not 0"),
        ("round(a, b)", "digits must be a whole number from -9 to 9"),
        ("round(a, 1.5)", "digits must be a whole number from -9 to 9"),
        ("a " * 501, "longer than 500 characters"),
        ("(" * 31 + "a" + ")" * 31, "nested more than 30 levels deep"),
        ("__import__('os')", "text in quotes is not allowed"),
        ("a\x00", "unexpected '\\x00' at position 2"),
    ],
)
def test_an_invalid_expression_gets_one_clear_line(text, message):
    with pytest.raises(ExpressionError) as info:
        parse(text, ["a", "b", "Run Time"])
    assert message in str(info.value)
    assert "\n" not in str(info.value)
