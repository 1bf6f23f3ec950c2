"""The words of every message a recipient reads, in each language a participant may choose.

They live in gettext catalogs, ``notifiers/locale/<language>/LC_MESSAGES/messages.po`` (easy Swedish
in ``sv@lattlast``), which ``make install`` compiles to ``.mo`` files with Babel (``pybabel compile``);
``messages.pot`` lists every message id. The ids are keys (``invitation.subject``), not the Swedish
sentence: an easy-Swedish or English text then stays attached to its message when the Swedish wording
changes. Placeholders are
``string.Template``'s ``$name``; every value is escaped for HTML where a page is made, so the texts are
plain text.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from string import Template
from typing import get_args

from babel import Locale
from babel.messages.mofile import read_mo

from scheduler.events import Language

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "Language", "section", "text"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "sv"
LOCALE_DIR = Path(__file__).with_name("locale")

# The catalogs' folders follow gettext: a variant of a language is a modifier (as in sr@latin).
_FOLDERS: dict[Language, str] = {"sv": "sv", "en": "en", "sv-x-lattlast": "sv@lattlast"}
# Easy Swedish is Swedish to the calendar: the same month and weekday names.
_BABEL_LOCALES: dict[Language, str] = {"sv": "sv_SE", "en": "en_GB", "sv-x-lattlast": "sv_SE"}


class CatalogsNotCompiled(RuntimeError):
    """The ``.mo`` files are built from the ``.po`` files at install time, and this one is missing."""


def catalog_path(language: Language) -> Path:
    return LOCALE_DIR / _FOLDERS[language] / "LC_MESSAGES" / "messages.mo"


@cache
def _catalog(language: Language) -> Mapping[str, str]:
    path = catalog_path(language)
    if not path.is_file():
        raise CatalogsNotCompiled(f"{path} is missing: `make install` compiles the message catalogs")
    with path.open("rb") as file:
        catalog = read_mo(file)
    return {str(message.id): str(message.string) for message in catalog if message.id}


@cache
def babel_locale(language: Language) -> Locale:
    """The locale whose calendar words (months, weekdays) a language's dates use."""
    return Locale.parse(_BABEL_LOCALES[language])


def text(language: Language, key: str, **values: object) -> str:
    """The message `key` in `language`, its ``$placeholders`` filled with `values`.

    A key missing from a catalog is a KeyError rather than the key itself shown to a recipient; the
    catalog test keeps that from reaching a running service.
    """
    words = _catalog(language)[key]
    if not values:
        return words
    return Template(words).substitute({name: str(value) for name, value in values.items()})


def section(language: Language, prefix: str) -> dict[str, str]:
    """Every message whose key is ``prefix.<name>``, by name (``labels`` → ``{"when": "Tid", …}``)."""
    return dict(_section(language, prefix))


@cache
def _section(language: Language, prefix: str) -> Mapping[str, str]:
    # Picking a section out of the whole catalog took a fifth of building an invitation; the catalogs
    # do not change while the process runs, so neither do their sections. Callers get a copy of their own.
    start = prefix + "."
    return {key[len(start) :]: words for key, words in _catalog(language).items() if key.startswith(start)}
