"""Every string a page shows has its Arabic and Hebrew translation, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from fusioncell.intel.pages import STATES
from fusioncell.web import i18n

WEB = Path(i18n.__file__).parent
SRC = WEB.parent
CALL = re.compile(r"""\b(?:_|gettext|translate|msg)\(\s*(?:request,\s*)?(["'])((?:(?!\1).)+)\1\s*\)""")
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def templates() -> list[Path]:
    """Every page template: the shared ones and each capability's."""
    return [*WEB.glob("templates/*.html"), *SRC.glob("*/templates/*.html")]


def source_strings() -> set[str]:
    files = [*templates(), *WEB.glob("*.py"), *SRC.glob("*/pages.py"), *SRC.glob("*/pdf.py")]
    found = {m.group(2) for f in files for m in CALL.finditer(f.read_text(encoding="utf-8"))}
    assert len(found) > 20, found  # the pattern still finds the calls
    return found | set(STATES)  # shown through _(item.state)


@pytest.mark.parametrize("code", [c for c in i18n.LANGUAGES if c != i18n.SOURCE])
def test_catalog_is_complete(code: str) -> None:
    with i18n.catalog_path(code).open("rb") as f:
        catalog = read_po(f, locale=code)
    translated = {m.id: m.string for m in catalog if m.id and m.string}
    missing = source_strings() - set(translated)
    assert not missing, f"{code}.po lacks: {sorted(missing)}"
    for source, text in translated.items():
        assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(source)), (code, source)
    stale = set(translated) - source_strings()
    assert not stale, f"{code}.po holds strings no page uses: {sorted(stale)}"
    assert i18n.language(code).gettext("Ledger") == translated["Ledger"] != "Ledger"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("ar-SY,ar;q=0.9,en;q=0.8", "ar"),
        ("en-GB, he;q=0.9", "en"),
        ("fr, he;q=0.2, ar;q=0.1", "he"),
        ("he;q=0, ar;q=0.5", "ar"),
        ("de, *;q=0.5", "en"),
        ("ar;q=abc, he", "he"),
    ],
)
def test_accept_language(header: str | None, expected: str) -> None:
    assert i18n.negotiate(header) == expected


def test_direction_follows_the_language() -> None:
    assert [i18n.language(c).direction for c in ("en", "ar", "he", "xx")] == ["ltr", "rtl", "rtl", "ltr"]


# What a template may show that is not a word to translate: punctuation, arrows, numbers.
_JINJA = re.compile(r"{#.*?#}|{%.*?%}|{{.*?}}", re.DOTALL)
_TAG = re.compile(r"<[^>]*>", re.DOTALL)
_WORD = re.compile(r"[^\W\d_]{2,}")


@pytest.mark.parametrize("template", templates(), ids=lambda p: p.name)
def test_no_label_is_left_untranslated(template: Path) -> None:
    """Every word a template shows goes through the catalogues: text between tags, outside Jinja, is not words."""
    text = _TAG.sub(" ", _JINJA.sub(" ", template.read_text(encoding="utf-8")))
    words = _WORD.findall(text.replace("&nbsp;", " "))
    assert not words, f"{template.name} shows untranslated words: {words}"
