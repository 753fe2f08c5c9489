"""The driver app's own dictionaries: English, Portuguese (Brazil) and Spanish have the same keys
and the same placeholders, and every key the app's code names exists."""

import json
import re
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "routes" / "static" / "driver_app"
LANGUAGES = ["en", "pt-BR", "es"]


def dictionary(language):
    return json.loads((APP / "i18n" / f"{language}.json").read_text(encoding="utf-8"))


def placeholders(text):
    return sorted(re.findall(r"\{(\w+)\}", text))


@pytest.mark.parametrize("language", ["pt-BR", "es"])
def test_every_dictionary_has_the_keys_of_english(language):
    assert set(dictionary(language)) == set(dictionary("en"))


@pytest.mark.parametrize("language", ["pt-BR", "es"])
def test_translations_keep_the_placeholders(language):
    english = dictionary("en")
    for key, text in dictionary(language).items():
        assert placeholders(text) == placeholders(english[key]), key
        assert text.strip(), key


def test_every_key_the_code_names_is_in_the_dictionaries():
    english = set(dictionary("en"))
    named = set()
    for source in (APP / "js").glob("*.js"):
        code = source.read_text(encoding="utf-8")
        named |= set(re.findall(r"\bt\(\s*\"([^\"]+)\"", code))
        named |= set(re.findall(r"\bkey: \"([^\"]+)\"", code))
    assert named, "no t(...) call found"
    assert named - english == set()


def test_the_app_offers_exactly_these_languages():
    code = (APP / "js" / "i18n.js").read_text(encoding="utf-8")
    offered = re.findall(r'code: "([^"]+)"', code)
    assert offered == LANGUAGES
    assert sorted(path.stem for path in (APP / "i18n").glob("*.json")) == sorted(LANGUAGES)
