"""The differential corpus (tests/conformance/corpus.py) is reproducible and covers its kinds."""

from __future__ import annotations

from tests.conformance import corpus
from tests.conformance.test_differential import SEED


def test_corpus_is_reproducible_and_mixed() -> None:
    first, again = corpus.build(200, SEED), corpus.build(200, SEED)
    assert first == again and len(first) == 200
    kinds = {r.label.split("-")[0] for r in first}
    assert {"openapi", "query", "deep", "number", "content", "auth", "path"} <= kinds
    assert any(r.allow == "deep_malformed" for r in corpus.build(2000, SEED))
    assert corpus.build(50, SEED + 1) != corpus.build(50, SEED)


def test_lone_surrogates_are_detected() -> None:
    assert corpus.lone_surrogates({"name": "\ud800"})
    assert not corpus.lone_surrogates({"name": "\U0001f600", "price": 1})
