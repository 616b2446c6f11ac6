"""Expressions over an upload's columns, e.g. `([Planned Time] - [Run Time]) / 60`, parsed by hand.

The grammar is an allow-list: numbers, column references (a bare name, or `[Any header]` with
`]]` for a `]`), `+ - * /` (also `× ÷ −`), parentheses and the functions in FUNCTIONS. It is
compiled to DuckDB SQL that holds no user text: columns become identifiers the caller picks and
numbers are re-written from their parsed value. Every value is a DECIMAL(38,9); a division by
zero, or a result out of range, is NULL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import NamedTuple

import duckdb
import pyarrow as pa

from pipelines.uploads.read import RawFile, UploadError
from pipelines.uploads.values import format_number, parse_number

MAX_CHARS = 500
MAX_DEPTH = 30
MAX_LISTED = 10  # headers named in an "unknown column" message
# name → (fewest, most) arguments; None: any number
FUNCTIONS = {
    "coalesce": (1, None),
    "abs": (1, 1),
    "round": (1, 2),
    "least": (1, None),
    "greatest": (1, None),
    "nullif": (2, 2),
}
DECIMAL = "decimal(38, 9)"
TOO_LARGE = Decimal(10) ** 29  # a DECIMAL(38,9) has 29 digits before the point


class ExpressionError(UploadError):
    """An expression that cannot be used; the message is one line for the user."""


# ------------------------------------------------------------------------------------------ tree

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3}  # others (atoms, calls): 4
_BARE = re.compile(r"[^\W\d][\w.]*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Expr:
    """A parsed expression, as a tree of nodes."""

    kind: str  # "number", "column", "neg" (unary minus), + - * /, or a function of FUNCTIONS
    value: Decimal | str | None = None  # the number, or the header of a column
    args: tuple[Expr, ...] = ()  # operands or arguments

    @property
    def columns(self) -> list[str]:
        """The headers referenced, in first-use order."""
        return list(dict.fromkeys(_headers(self)))

    @property
    def text(self) -> str:
        """The canonical form: parsing it with the same headers gives the same tree."""
        return _render(self)

    @property
    def is_column(self) -> bool:
        """True when the expression is one column reference and nothing else."""
        return self.kind == "column"


def _headers(e: Expr) -> Iterator[str]:
    if e.kind == "column":
        yield e.value
    for a in e.args:
        yield from _headers(a)


def _render(e: Expr) -> str:
    if e.kind == "number":
        return format_number(e.value)
    if e.kind == "column":
        return e.value if _BARE.fullmatch(e.value) else "[" + e.value.replace("]", "]]") + "]"
    if e.kind not in _PRECEDENCE:
        return f"{e.kind}({', '.join(map(_render, e.args))})"
    texts = [_render(a) for a in e.args]
    mine, theirs = _PRECEDENCE[e.kind], [_PRECEDENCE.get(a.kind, 4) for a in e.args]
    if e.kind == "neg":  # never `--`, which reads as a comment
        wrap = theirs[0] < mine or texts[0].startswith("-")
        return f"-({texts[0]})" if wrap else f"-{texts[0]}"
    left = f"({texts[0]})" if theirs[0] < mine else texts[0]
    right = f"({texts[1]})" if theirs[1] <= mine else texts[1]
    return f"{left} {e.kind} {right}"


def to_sql(expr: Expr, names: dict[str, str]) -> str:
    """DuckDB SQL for `expr`, a DECIMAL(38,9) (NULL on a zero divisor or an overflow).

    `names` maps every referenced header to an identifier the caller chose (`c0`, `c1`, …); the
    SQL holds only those identifiers, numbers, operators and the allow-listed functions."""
    return f"try(cast({_sql(expr, names)} as {DECIMAL}))"


def _sql(e: Expr, names: dict[str, str]) -> str:
    """Every node is a DECIMAL(38,9): products and quotients (DOUBLE in DuckDB) are cast back."""
    if e.kind == "number":
        literal = format(e.value, "f")
        if not re.fullmatch(r"-?\d+(\.\d+)?", literal):
            raise ValueError(f"not a finite number: {literal!r}")
        return f"cast({literal} as {DECIMAL})"
    if e.kind == "column":
        name = names.get(e.value)
        if name is None or not _IDENTIFIER.fullmatch(name):
            raise ValueError(f"to_sql needs a plain identifier for every column, got {name!r}")
        return f'"{name}"'
    args = [_sql(a, names) for a in e.args]
    if e.kind == "neg":
        return f"(-{args[0]})"
    if e.kind in ("+", "-"):
        return f"({args[0]} {e.kind} {args[1]})"
    if e.kind == "*":
        return f"cast({args[0]} * {args[1]} as {DECIMAL})"
    if e.kind == "/":
        return f"cast({args[0]} / nullif({args[1]}, 0) as {DECIMAL})"
    if e.kind == "round":
        digits = int(e.args[1].value) if len(args) == 2 else 0
        return f"cast(round({args[0]}, {digits}) as {DECIMAL})"
    if e.kind not in FUNCTIONS:
        raise ValueError(f"not an allowed function: {e.kind!r}")
    return f"{e.kind}({', '.join(args)})"


# ------------------------------------------------------------------------------------ tokenizer


class Token(NamedTuple):
    kind: str  # num, name, bracket, op, "(", ")", ",", end
    text: str  # as written
    pos: int  # 1-based character position


_TOKEN = re.compile(
    r"(?P<space>\s+)|(?P<num>\.?\d[\w.]*)|(?P<name>[^\W\d][\w.]*)|(?P<bracket>\[(?:[^\]]|\]\])*\])"
    r"|(?P<comment>--|/\*|\*/)|(?P<op>[-+*/×÷−])|(?P<punct>[(),])"
)
_NUMBER = re.compile(r"(\d+)(?:\.(\d*))?")
_QUOTES = "'\"`‘’“”"
_OPS = {"×": "*", "÷": "/", "−": "-"}


def _tokens(text: str) -> list[Token]:
    """Split the text into tokens, checking parentheses; raise ExpressionError at the first flaw."""
    tokens, opened, i = [], [], 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if m is None:
            raise ExpressionError(_bad_character(text, i))
        kind, word = m.lastgroup, m.group()
        if kind == "comment":
            raise ExpressionError(f"'{word}' at position {i + 1}: comments are not allowed")
        if word == "(":
            opened.append(i + 1)
            if len(opened) > MAX_DEPTH:
                raise ExpressionError(f"the expression is nested more than {MAX_DEPTH} levels deep")
        elif word == ")" and not opened:
            raise ExpressionError(f"unbalanced parenthesis: ')' at position {i + 1} has no '('")
        elif word == ")":
            opened.pop()
        if kind != "space":
            tokens.append(Token(word if kind == "punct" else kind, word, i + 1))
        i = m.end()
    if opened:
        raise ExpressionError(
            f"unbalanced parenthesis: '(' at position {opened[-1]} is never closed"
        )
    return [*tokens, Token("end", "", len(text) + 1)]


def _bad_character(text: str, i: int) -> str:
    c = text[i]
    if c in _QUOTES:
        return "text in quotes is not allowed: use [Column name] for a column with spaces"
    if c == "[":
        return f"'[' at position {i + 1} is never closed (write ]] for a ] inside a name)"
    return f"unexpected {c!r} at position {i + 1}"


def _number(t: Token) -> Expr:
    m = _NUMBER.fullmatch(t.text)
    if m is None:
        raise ExpressionError(f"{t.text!r} at position {t.pos} is not a number")
    whole, fraction = m.group(1).lstrip("0"), (m.group(2) or "").rstrip("0")
    if len(whole) > 29 or len(fraction) > 9:
        raise ExpressionError(f"the number at position {t.pos} has too many digits")
    return Expr("number", Decimal(t.text))


# --------------------------------------------------------------------------------------- parser


def parse(text: str, headers: list[str]) -> Expr:
    """Parse an expression over the columns `headers`; raise ExpressionError with one clear line."""
    if not text.strip():
        raise ExpressionError("empty expression")
    if len("".join(text.split())) > MAX_CHARS:  # (the canonical text is never longer)
        raise ExpressionError(
            f"the expression is longer than {MAX_CHARS} characters (spaces not counted)"
        )
    return _Parser(_tokens(text), headers).whole()


class _Parser:
    """Recursive descent: sum := product (+|- product)*; product := unary (*|/ unary)*;
    unary := - unary | atom; atom := number | column | function(sum, …) | (sum)."""

    def __init__(self, tokens: list[Token], headers: list[str]):
        self.tokens, self.headers, self.i = tokens, headers, 0

    def take(self, *kinds: str) -> Token:
        """The next token; it must be of one of `kinds`, when given."""
        t = self.tokens[self.i]
        if kinds and t.kind not in kinds:
            raise _unexpected(t)
        self.i += 1
        return t

    def next_op(self, ops: str) -> str | None:
        """The next token's operator (× ÷ − as * / -) if it is one of `ops`, taken."""
        t = self.tokens[self.i]
        op = _OPS.get(t.text, t.text) if t.kind == "op" else None
        if op is None or op not in ops:
            return None
        self.i += 1
        return op

    def whole(self) -> Expr:
        e = self.sum()
        self.take("end")
        return e

    def sum(self) -> Expr:
        return self.chain("+-", self.product)

    def product(self) -> Expr:
        return self.chain("*/", self.unary)

    def chain(self, ops: str, operand) -> Expr:
        """operand (op operand)*, grouped from the left: a - b - c is (a - b) - c."""
        e = operand()
        while op := self.next_op(ops):
            e = Expr(op, args=(e, operand()))
        return e

    def unary(self) -> Expr:
        if not self.next_op("-"):
            return self.atom()
        operand = self.unary()
        if operand.kind == "number":
            return Expr("number", -operand.value)
        return operand.args[0] if operand.kind == "neg" else Expr("neg", args=(operand,))

    def atom(self) -> Expr:
        t = self.take("num", "bracket", "name", "(", "end")
        if t.kind == "end":
            raise ExpressionError("the expression ends too early: a number or column is missing")
        if t.kind == "num":
            return _number(t)
        if t.kind == "bracket" and not t.text[1:-1].strip():
            raise ExpressionError(f"empty column name {t.text!r} at position {t.pos}")
        if t.kind == "bracket":
            return Expr("column", _resolve(t.text[1:-1].replace("]]", "]"), self.headers))
        if t.kind == "name" and self.tokens[self.i].kind == "(":
            return self.call(t)
        if t.kind == "name":
            return Expr("column", _resolve(t.text, self.headers))
        e = self.sum()
        self.take(")")
        return e

    def call(self, name: Token) -> Expr:
        function = name.text.lower()
        if function not in FUNCTIONS:
            raise ExpressionError(f"unknown function {name.text!r} (use: {', '.join(FUNCTIONS)})")
        self.take("(")
        args = [] if self.tokens[self.i].kind == ")" else [self.sum()]
        while self.tokens[self.i].kind == ",":
            self.take(",")
            args.append(self.sum())
        self.take(")")
        return _checked(Expr(function, args=tuple(args)), name.pos)


def _unexpected(t: Token) -> ExpressionError:
    hint = " (an operator is missing?)" if t.kind in ("num", "name", "bracket", "(") else ""
    return ExpressionError(f"unexpected {t.text!r} at position {t.pos}{hint}")


def _resolve(name: str, headers: list[str]) -> str:
    """The header `name` refers to: the exact one, else the only one equal but for case."""
    if name in headers:
        return name
    key = name.strip().casefold()
    hits = [h for h in headers if h.strip().casefold() == key]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise ExpressionError(
            f"column {name!r} matches {', '.join(map(repr, hits))}: write it exactly as in the file"
        )
    listed = ", ".join(headers[:MAX_LISTED]) + (" …" if len(headers) > MAX_LISTED else "")
    spaced = [h for h in headers if h.casefold().startswith(key) and not _BARE.fullmatch(h)]
    hint = f"; write [{spaced[0]}] for a name with spaces or symbols" if spaced else ""
    raise ExpressionError(f"unknown column {name!r} (the file has: {listed}){hint}")


def _checked(call: Expr, pos: int) -> Expr:
    """The call, if it has as many arguments as its function takes (round: digits -9 to 9)."""
    fewest, most = FUNCTIONS[call.kind]
    n = len(call.args)
    if n < fewest or (most is not None and n > most):
        takes = {(1, 1): "1 argument", (2, 2): "2 arguments", (1, 2): "1 or 2 arguments"}
        wanted = takes.get((fewest, most), f"at least {fewest} argument")
        raise ExpressionError(f"{call.kind} at position {pos} takes {wanted}, not {n}")
    if call.kind == "round" and n == 2:
        digits = call.args[1]
        if digits.kind != "number" or digits.value % 1 or abs(digits.value) > 9:
            raise ExpressionError("round(x, digits): digits must be a whole number from -9 to 9")
    return call


# ------------------------------------------------------------------------------------ evaluation


def evaluate(expr: Expr, raw: RawFile, decimal: str = ".") -> tuple[list[str], dict[int, str]]:
    """One text per row of `raw` ('' for NULL), and {row index: problem} for rows where a
    referenced value is not a number; such a row's text is that value as written, so that the
    store's validation rejects the row with its reason. One DuckDB query computes every row."""
    missing = [h for h in expr.columns if h not in raw.header]
    if missing:
        _resolve(missing[0], raw.header)  # raises: unknown column (the file has: …)
    names = {h: f"c{i}" for i, h in enumerate(expr.columns)}
    arrays: dict[str, pa.Array] = {}
    kept: dict[int, str] = {}
    problems: dict[int, str] = {}
    for header, name in names.items():
        values, unread = _numbers(raw.column(header), decimal)
        arrays[name] = pa.array(values, pa.decimal128(38, 9))
        for i, (written, reason) in unread.items():
            if i not in problems:
                kept[i] = written
                problems[i] = f"{written!r} in {_render(Expr('column', header))} {reason}"
    results = _run(to_sql(expr, names), arrays, raw.n_rows)
    texts = {d: format_number(d) for d in set(results) if d is not None}
    out = ["" if d is None else texts[d] for d in results]
    for i, written in kept.items():
        out[i] = written
    return out, problems


def _numbers(values: list[str], decimal: str) -> tuple[list, dict[int, tuple[str, str]]]:
    """Each value as a Decimal rounded to 9 places (None if empty), and {row: (value as written,
    why it is unreadable)}; each distinct value is parsed once."""
    memo: dict[str, Decimal | str | None] = {}
    for v in set(values):
        text = v.strip()
        d = parse_number(text, decimal) if text else None
        if text and d is None:
            memo[v] = "is not a number"
        elif d is not None and abs(d) >= TOO_LARGE:
            memo[v] = "is too large"
        else:
            memo[v] = None if d is None else _round9(d)
    parsed = [memo[v] for v in values]
    unread = {
        i: (v.strip(), d)
        for i, (v, d) in enumerate(zip(values, parsed, strict=True))
        if isinstance(d, str)
    }
    return [None if isinstance(d, str) else d for d in parsed], unread


def _round9(d: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 40
        return d.quantize(Decimal("1e-9"))


def _run(sql: str, arrays: dict[str, pa.Array], n_rows: int) -> list[Decimal | None]:
    """The values of `sql` over a table of `arrays` (one per column name), in row order."""
    table = pa.table(arrays) if arrays else pa.table({"_": pa.nulls(n_rows)})
    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    try:
        con.execute("set enable_progress_bar = false")
        con.register("source", table)
        return [v for (v,) in con.execute(f"select {sql} from source").fetchall()]
    finally:
        con.close()
