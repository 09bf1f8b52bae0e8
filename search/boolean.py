"""Exact matching of a parsed query (`search.query`): n-gram candidates, set algebra, verification.

For a term (a normalized string ``s``):

1. **Candidates.** Every document containing ``s`` holds all of ``s``'s index terms (its letter/
   digit runs' bigrams, or the character of a one-character run: `search.analysis.query_terms`)
   in the same field. Intersecting those posting lists (rarest first) gives a superset.
   (Whitespace is not indexed: a space in a phrase matches a space or a paragraph break.)
2. **Verification.** If ``s`` is itself one index term (one or two letters/digits), the postings
   are exact. Otherwise the candidates are checked against their search keys (`search.verify`).
   So results are exact: recall and precision 1.0, and an exact total.
3. **Boolean structure.** AND narrows a context set with every child's cheap superset first,
   then verifies within it; NOT subtracts the exact matches of its child within the context; OR
   unites. The first context is the documents passing the filters (`search.filters`).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING

from search.analysis import is_single_term, query_terms
from search.query import And, Node, Not, Or, Term
from search.verify import verify

if TYPE_CHECKING:
    from archive.store import Store
    from search.reader import GenerationReader

#: The index fields a term's scope (``title:``, ``text:`` or neither) searches.
FIELDS = {"any": ("title", "text"), "title": ("title",), "text": ("text",)}


class Matcher:
    """Exact matches of query nodes on one open index generation, verified in ``store``.

    Candidate sets are cached per term (ranking reuses them for idf)."""

    def __init__(self, index: GenerationReader, store: Store) -> None:
        self.index = index
        self.store = store
        self._candidates: dict[Term, set[int] | None] = {}

    def clear_cache(self) -> None:
        """Forget the cached candidate sets."""
        self._candidates.clear()

    def candidates(self, term: Term) -> set[int] | None:
        """Documents that may contain the term (a superset; None: no index terms, all)."""
        if term in self._candidates:
            return self._candidates[term]
        grams = query_terms(term.needle)
        result: set[int] | None
        if not grams:
            result = None
        else:
            result = set()
            for fieldname in FIELDS[term.scope]:
                lists = sorted((self.index.postings(fieldname, g) for g in grams), key=len)
                docs: AbstractSet[int] = lists[0].keys()
                for other in lists[1:]:
                    if not docs:
                        break
                    docs = docs & other.keys()  # a set; in C
                result |= docs
        self._candidates[term] = result
        return result

    def superset(self, node: Node) -> set[int] | None:
        """A cheap superset of a node's matches from the index alone (None: unknown)."""
        if isinstance(node, Term):
            return self.candidates(node)
        if isinstance(node, Not):
            return None
        parts = [self.superset(child) for child in node.children]
        if isinstance(node, And):
            known: list[set[int]] = [p for p in parts if p is not None]
            if not known:
                return None
            smallest: set[int] = min(known, key=len)
            out = set(smallest)
            for p in known:
                out &= p
            return out
        if any(p is None for p in parts):
            return None
        return set().union(*parts)  # type: ignore[arg-type]

    def exact(self, node: Node, context: set[int]) -> set[int]:
        """The documents of ``context`` that match ``node`` exactly."""
        if not context:
            return set()
        if isinstance(node, Term):
            cands = self.candidates(node)
            docs = set(context) if cands is None else intersect(context, cands)
            if not docs or is_single_term(node.needle):
                return docs
            return verify(self.index, self.store, node, docs)
        if isinstance(node, Not):
            return context - self.exact(node.child, context)
        if isinstance(node, Or):
            out: set[int] = set()
            for child in node.children:
                out |= self.exact(child, context)
            return out
        return self._exact_and(node, context)

    def _exact_and(self, node: And, context: set[int]) -> set[int]:
        docs = set(context)
        positives = [c for c in node.children if not isinstance(c, Not)]
        negatives = [c for c in node.children if isinstance(c, Not)]
        sizes: dict[int, int] = {}
        for child in positives:
            sup = self.superset(child)
            if sup is not None:
                docs = intersect(docs, sup)
                sizes[id(child)] = len(sup)
        doc_count_all = self.index.doc_count_all
        for child in sorted(positives, key=lambda c: sizes.get(id(c), doc_count_all)):
            docs = self.exact(child, docs)
            if not docs:
                return docs
        for negated in negatives:
            docs -= self.exact(negated.child, docs)
        return docs


def intersect(a: set[int], b: set[int] | dict[int, int]) -> set[int]:
    """``a & b``, iterating over the smaller one (``b`` may be a posting dict)."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return {d for d in small if d in large}
