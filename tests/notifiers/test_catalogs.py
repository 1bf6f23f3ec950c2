"""The message catalogs: every language has every message, with the same placeholders, and the easy
Swedish follows the advice for lättläst (short sentences, no abbreviations)."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from notifiers.i18n import LANGUAGES, LOCALE_DIR, Language, catalog_path, text

ROOT = Path(__file__).resolve().parents[2]
# Every module that words what a recipient reads.
WORDING = [
    *(ROOT / "notifiers").glob("*.py"),
    ROOT / "service" / "replies" / "rsvp_page.py",
    ROOT / "service" / "replies" / "rsvp_form.py",
]
FOLDERS = {"sv": "sv", "en": "en", "sv-x-lattlast": "sv@lattlast"}


def source(language: Language) -> Catalog:
    with (LOCALE_DIR / FOLDERS[language] / "LC_MESSAGES" / "messages.po").open("rb") as file:
        return read_po(file)


def template_ids() -> set[str]:
    with (LOCALE_DIR / "messages.pot").open("rb") as file:
        return {str(message.id) for message in read_po(file) if message.id}


def placeholders(words: str) -> set[str]:
    return {found[1] or found[2] for found in Template.pattern.findall(words) if found[1] or found[2]}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalog_has_exactly_the_templates_messages_translated(language: Language) -> None:
    catalog = source(language)
    ids = {str(message.id) for message in catalog if message.id}

    assert ids == template_ids()
    for message in catalog:
        if message.id:
            assert message.string, f"{language}: {message.id} is empty"
            assert not message.fuzzy, f"{language}: {message.id} is fuzzy"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_translation_fills_the_same_placeholders_as_the_swedish(language: Language) -> None:
    swedish = {str(message.id): str(message.string) for message in source("sv") if message.id}
    for message in source(language):
        if message.id:
            assert placeholders(str(message.string)) == placeholders(swedish[str(message.id)]), message.id


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalog_is_the_one_the_service_reads(language: Language) -> None:
    assert catalog_path(language).is_file()
    summary = source(language).get("calendar.summary")
    assert summary is not None
    assert text(language, "calendar.summary") == str(summary.string)


def test_every_message_the_code_asks_for_is_in_the_template() -> None:
    asked: set[str] = set()
    for module in WORDING:
        code = module.read_text(encoding="utf-8")
        asked |= set(re.findall(r'text\(\s*\w+,\s*["\']([a-z0-9_]+\.[a-z0-9_]+)["\']', code))
        for name in re.findall(r'_fixed\("([a-z0-9_]+)"\)', code):
            asked |= {f"{name}.headline", f"{name}.what", f"{name}.act"}
    assert len(asked) > 100
    assert asked <= template_ids(), sorted(asked - template_ids())


ABBREVIATIONS = re.compile(r"\b(kl|t\.ex|bl\.a|ca|dvs|osv|m\.m|fr\.o\.m|t\.o\.m|resp|ang)\.", re.IGNORECASE)


def easy_swedish_sentences() -> list[tuple[str, str]]:
    """Every sentence of the easy-Swedish catalog that people read as prose (not date patterns)."""
    found = []
    for message in source("sv-x-lattlast"):
        if message.id and not str(message.id).startswith("dates."):
            for sentence in re.split(r"(?<=[.!?])\s+", str(message.string)):
                found.append((str(message.id), sentence))
    return found


def test_easy_swedish_uses_no_abbreviations() -> None:
    for key, sentence in easy_swedish_sentences():
        assert not ABBREVIATIONS.search(sentence), f"{key}: {sentence}"
    assert "klockan" in text("sv-x-lattlast", "dates.moment", day="måndag", clock="13.00")


def test_easy_swedish_sentences_are_short() -> None:
    # Myndigheten för tillgänglig media: short sentences, one thought each. Counted without the
    # placeholders' own words, which are times, places and names.
    for key, sentence in easy_swedish_sentences():
        words = [word for word in sentence.split() if not word.startswith("$")]
        assert len(words) <= 16, f"{key}: {len(words)} words"


def test_easy_swedish_is_shorter_than_the_swedish_it_says_again() -> None:
    def longest_sentence(language: Language) -> int:
        return max(
            len(sentence.split())
            for message in source(language)
            if message.id and not str(message.id).startswith("dates.")
            for sentence in re.split(r"(?<=[.!?])\s+", str(message.string))
        )

    assert longest_sentence("sv-x-lattlast") < longest_sentence("sv")
