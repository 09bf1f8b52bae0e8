"""Full-text search over the archive: a Whoosh index of character n-grams, verified against each
document's search key (a column of the index).

How a search works (see README "hra search"):

* **Index** (`search.schema`, `search.analysis`, `search.codec`, `search.segments`,
  `search.index`, `search.build`, `search.index_files`): every document's title and text,
  lower-cased, become frequency-only postings of their character *bigrams* and *unigrams*
  (letters and digits of any script; Lucene's CJK-bigram recipe, plus unigrams so one-character
  queries work), no positions; and a per-document ``key`` column: the title and text in the
  form queries are compared with (`search.schema.key_value`). Segments are
  written in bulk (`search.segments.SegmentBuilder`) with a custom Whoosh codec
  (`search.codec.GramCodec`: ``W3Codec``'s per-document files, its own compact term table and
  posting lists), so the index is a Whoosh 2.7.4 index that Whoosh itself can open as long as
  `search.codec` is importable. The single writer follows the archive's change log.
* **Query** (`search.query`): whitespace-separated terms are ANDed; ``OR``, ``-term``/``NOT term``,
  ``"quoted phrases"``, parentheses and ``title:``/``text:`` prefixes. Every term is normalized
  like the documents (`archive.text.normalize.search_key`) and means "this exact substring".
* **Execution** (`search.engine.Searcher`, coordinating `search.filters`, `search.boolean`,
  `search.verify`, `search.scoring`, `search.facets`, `search.hits` over one open generation,
  `search.reader`): the intersection of a term's n-gram postings is a superset of the
  documents containing it; candidates are then verified against their keys, memory-mapped and
  searched in C (``mmap.find``; the archive rows only for segments without keys), so recall and
  precision are exact and the total is exact. Ranking is BM25F over the n-gram frequencies with a title
  boost; snippets come from the archive text (`search.snippets`: text plus highlight spans,
  rendered by the CLI).
* **For the CLI** (`search.selection`): a search on the live index generation, opened again when
  a rebuild swaps it meanwhile (`search.swap_retry`, shared with `search.reader`), and the
  documents `hra list` and `hra export` work on. Data only; errors are `archive.errors.HraError`.

Nothing here is imported by `hra` unless a search command runs; Whoosh is only imported in
``search`` modules, and its private attributes are read only in `search.whoosh_internals`.
``search`` imports neither the crawler nor the CLI (tests/test_search_layout.py checks both).
"""
