"""The query language of `hra search` (no Whoosh here: parsing must be cheap and testable).

Grammar (tightest first)::

    primary  := [title: | text:] TERM | [title: | text:] "PHRASE" | ( query )
    unary    := - unary | NOT unary | primary
    or       := unary (OR unary)*
    query    := or ([AND] or)*          (juxtaposition is AND)

* Every TERM and PHRASE means "contains exactly this string" after normalization
  (`archive.text.normalize.search_key`: NFKC, pinyin annotations dropped, OpenCC t2s,
  lower-case). ``醫共體`` finds ``医共体``; ``iarc`` finds ``IARC``; ``covid`` finds ``COVID-19``
  (Latin is matched as a substring too, like Chinese).
* A quoted phrase is one exact substring *including its spaces*: whitespace (spaces, newlines)
  is folded to one space, which matches a space or a paragraph break of the archive text;
  ``"covid 19"`` does not match ``covid-19``. Quotes also make
  ``OR``, ``NOT``, ``-x``, ``title:`` and parentheses literal.
* ``title:`` / ``text:`` restrict a term to the title or the body; a bare term matches either
  (the string must lie within one of them).
* ``OR`` and ``NOT``/``AND`` are operators only in upper case; ``-`` negates only at the start of
  a term; ``(`` and ``)`` group only at the start/end of a term (``方案(试行)`` is one term).
* Malformed queries raise `QueryError` (the CLI exits 2): empty, unbalanced quotes or
  parentheses, an ``OR``/``AND`` without a term on both sides, a ``NOT``/``-``/``title:`` with
  nothing after it, a term that normalizes to nothing, text that is not valid Unicode (bytes
  that were not UTF-8), and queries past the limits (`MAX_QUERY_CHARS`, `MAX_TERMS`,
  `MAX_DEPTH`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

SCOPES = ("any", "title", "text")
#: Limits that keep every query cheap to parse and run (each term is a posting-list walk and a
#: verification pass): longer, deeper or wider queries are refused with a message.
MAX_QUERY_CHARS = 1000
MAX_TERMS = 64
MAX_DEPTH = 32  # nested parentheses plus stacked NOT / -
_PREFIXES = {"title:": "title", "text:": "text"}


class QueryError(ValueError):
    """A malformed query; the message says what is wrong, for the user."""


@dataclass(frozen=True)
class Term:
    """Documents whose title and/or text (``scope``) contain ``needle`` (normalized)."""

    needle: str
    scope: str = "any"
    raw: str = ""


@dataclass(frozen=True)
class Not:
    """Documents (of the context) that do not match ``child``."""

    child: Node


@dataclass(frozen=True)
class And:
    """Documents matching every child."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Documents matching any child."""

    children: tuple[Node, ...]


Node = Term | Not | And | Or


@dataclass(frozen=True)
class _Tok:
    kind: str  # "word", "phrase", "(", ")", "OR", "AND", "NOT", "-", "prefix"
    text: str = ""


def _normalize(text: str) -> str:
    from archive.text.normalize import search_key

    return search_key(" ".join(text.split()))


def _lex(query: str) -> Iterator[_Tok]:
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "(":
            yield _Tok("(")
            i += 1
            continue
        if ch == "-" and i + 1 < n and not query[i + 1].isspace():
            yield _Tok("-")
            i += 1
            continue
        if ch == "-":
            raise QueryError("'-' must be followed by a term (write '-疫情', or quote \"-\")")
        low = query[i:i + 6].lower()
        prefix = next((p for p in _PREFIXES if low.startswith(p)), None)
        if prefix:
            yield _Tok("prefix", _PREFIXES[prefix])
            i += len(prefix)
            if i >= n or query[i].isspace() or query[i] == ")":
                raise QueryError(f"'{prefix}' must be followed by a term")
            continue
        if ch == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise QueryError("unbalanced quote: a phrase starts with \" but never ends")
            yield _Tok("phrase", query[i + 1:end])
            i = end + 1
            continue
        j = i
        while j < n and not query[j].isspace() and query[j] != '"':
            j += 1
        word = query[i:j]
        body = word.rstrip(")")
        # Trailing ')' close parentheses opened inside the word first (方案(试行)), then groups.
        inner = min(len(word) - len(body), max(body.count("(") - body.count(")"), 0))
        closing = len(word) - len(body) - inner
        word = body + ")" * inner
        if word in ("OR", "AND", "NOT"):
            yield _Tok(word)
        elif word:
            yield _Tok("word", word)
        for _ in range(closing):
            yield _Tok(")")
        i = j


class _Parser:
    def __init__(self, tokens: list[_Tok]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(f"the query nests more than {MAX_DEPTH} levels of parentheses and "
                             "NOT/-: write it flatter")

    def peek(self) -> _Tok | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Tok:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def query(self, depth: int = 0) -> Node:
        items = [self.or_expr()]
        while (tok := self.peek()) is not None and tok.kind != ")":
            if tok.kind == "AND":
                self.take()
                if (after := self.peek()) is None or after.kind in (")", "OR", "AND"):
                    raise QueryError("'AND' needs a term on both sides")
            items.append(self.or_expr())
        if tok is not None and tok.kind == ")" and depth == 0:
            raise QueryError("unbalanced parenthesis: ')' without '('")
        return items[0] if len(items) == 1 else And(tuple(items))

    def or_expr(self) -> Node:
        items = [self.unary()]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.take()
            nxt = self.peek()
            if nxt is None or nxt.kind in (")", "OR", "AND"):
                raise QueryError("'OR' needs a term on both sides")
            items.append(self.unary())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def unary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise QueryError("the query ends where a term was expected")
        if tok.kind in ("-", "NOT"):
            self.take()
            nxt = self.peek()
            if nxt is None or nxt.kind in (")", "OR", "AND"):
                raise QueryError(f"'{'-' if tok.kind == '-' else 'NOT'}' must be followed by a term")
            self.deeper()
            child = self.unary()
            self.depth -= 1
            return Not(child)
        return self.primary()

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind in ("OR", "AND"):
            raise QueryError(f"'{tok.kind}' needs a term on both sides")
        if tok.kind == ")":
            raise QueryError("unbalanced parenthesis: ')' without '('")
        if tok.kind == "(":
            if (first := self.peek()) is None or first.kind == ")":
                raise QueryError("empty parentheses")
            self.deeper()
            node = self.query(depth=1)
            if self.peek() is None:
                raise QueryError("unbalanced parenthesis: '(' without ')'")
            self.take()
            self.depth -= 1
            return node
        scope = "any"
        if tok.kind == "prefix":
            scope = tok.text
            tok = self.take()
            if tok.kind not in ("word", "phrase"):
                raise QueryError(f"'{scope}:' must be followed by a term or a quoted phrase")
        if tok.kind not in ("word", "phrase"):
            raise QueryError(f"unexpected {tok.kind!r}")
        needle = _normalize(tok.text)
        if not needle:
            what = "empty phrase" if tok.kind == "phrase" else f"the term {tok.text!r} is empty"
            raise QueryError(f"{what} (nothing left after normalization)")
        return Term(needle, scope, tok.text)


def parse(query: str) -> Node:
    """Parse a query string; raises `QueryError` when it is malformed."""
    if not query or not query.strip():
        raise QueryError("empty query: give at least one term, e.g. hra search 医共体")
    if any("\ud800" <= ch <= "\udfff" for ch in query):
        raise QueryError("the query is not valid text (bytes that are not UTF-8?): type it again "
                         "in a UTF-8 terminal")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is {len(query)} characters long; at most {MAX_QUERY_CHARS}")
    tokens = list(_lex(query.replace("\u3000", " ")))
    if not tokens:
        raise QueryError("empty query: give at least one term, e.g. hra search 医共体")
    n_terms = sum(1 for tok in tokens if tok.kind in ("word", "phrase"))
    if n_terms > MAX_TERMS:
        raise QueryError(f"the query has {n_terms} terms; at most {MAX_TERMS} (search in parts, "
                         "or narrow it with filters)")
    return _Parser(tokens).query()


def terms(node: Node, *, negated: bool = False) -> Iterator[tuple[Term, bool]]:
    """Every term of a query with whether it is negated (under an odd number of NOTs)."""
    if isinstance(node, Term):
        yield node, negated
    elif isinstance(node, Not):
        yield from terms(node.child, negated=not negated)
    else:
        for child in node.children:
            yield from terms(child, negated=negated)


def positive_terms(node: Node) -> list[Term]:
    """The terms that make a document match (used for ranking and highlighting), deduplicated."""
    return list(dict.fromkeys(t for t, negated in terms(node) if not negated))


def describe(node: Node) -> str:
    """A canonical text form of a parsed query (for messages and tests)."""
    if isinstance(node, Term):
        prefix = "" if node.scope == "any" else f"{node.scope}:"
        return f'{prefix}"{node.needle}"'
    if isinstance(node, Not):
        return f"-{describe(node.child)}"
    joiner = " OR " if isinstance(node, Or) else " "
    return "(" + joiner.join(describe(c) for c in node.children) + ")"
