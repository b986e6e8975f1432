"""The entries' canonical JSON: the fast path must be byte-identical to the rfc8785 library, whatever the value."""

from __future__ import annotations

from typing import Any

import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from fusioncell.ledger.entries import _plain, canonical

TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)  # every character a JSON text may hold
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | TEXT
    | st.floats(allow_nan=False, allow_infinity=False)
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4), max_leaves=20
)


@given(VALUES)
def test_canonical_equals_rfc8785(value: Any) -> None:
    assert canonical(value) == rfc8785.dumps(value)


def test_what_takes_the_fast_path() -> None:
    assert _plain({"a": [1, "x", None, True, {"é": "\u2028"}]})
    assert not _plain({"a": 1.5})  # JCS writes numbers its own way
    assert not _plain({"\U0001f600": 1, "\uffff": 2})  # UTF-16 and code point orders differ here
    assert canonical({"\U0001f600": 1, "\uffff": 2}) == rfc8785.dumps({"\U0001f600": 1, "\uffff": 2})
    assert not _plain(2**60)


@given(st.dictionaries(TEXT, st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | TEXT, max_size=8))
def test_flat_content_takes_one_pass_and_equals_rfc8785(value: dict[str, Any]) -> None:
    from fusioncell.ledger.entries import _flat

    assert _flat(value) == all(k.isascii() or max(k) < "\U00010000" for k in value)
    assert canonical(value) == rfc8785.dumps(value)
