"""The pages' languages: English (the source strings), Arabic and Hebrew (right to left), from gettext catalogs
read as they are kept in git (.po), so no build step compiles them."""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

TRANSLATIONS = Path(__file__).parent / "translations"
SOURCE = "en"
LANGUAGES = ("en", "ar", "he")  # the order of the language switcher


@dataclass(frozen=True)
class Language:
    code: str
    locale: Locale
    translations: gettext.NullTranslations

    @property
    def direction(self) -> str:
        return "rtl" if self.locale.character_order == "right-to-left" else "ltr"

    @property
    def own_name(self) -> str:
        """The language's name in itself, as the switcher shows it."""
        return self.locale.get_display_name(self.locale) or self.code

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def number(self, value: int) -> str:
        return format_decimal(value, locale=self.locale)

    def datetime(self, value: datetime) -> str:
        """UTC, in ISO digits in every language (what Babel's "yyyy-MM-dd HH:mm:ss 'UTC'" writes for each of
        them, at a fraction of its cost: a watch page spells hundreds); the page's script rewrites it to the
        reader's local time."""
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def catalog_path(code: str) -> Path:
    return TRANSLATIONS / f"{code}.po"


@cache
def language(code: str) -> Language:
    """The language of a code among LANGUAGES (anything else is the source language)."""
    if code not in LANGUAGES:
        code = SOURCE
    translations: gettext.NullTranslations = gettext.NullTranslations()
    if code != SOURCE:
        with catalog_path(code).open("rb") as f:
            catalog = read_po(f, locale=code)
        compiled = BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        translations = gettext.GNUTranslations(compiled)
    return Language(code, Locale.parse(code), translations)


def negotiate(accept_language: str | None) -> str:
    """The best of LANGUAGES for an Accept-Language header (RFC 9110 §12.5.4), else the source language."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)  # RFC 9110: 0 to 1
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        primary = tag.split("-")[0]
        if primary in LANGUAGES:
            return primary
    return SOURCE
