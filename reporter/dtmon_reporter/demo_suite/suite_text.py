"""Text handling; the failures are JSON's tuple-to-list and Unicode's one-way case mapping."""

import json
import unicodedata


def test_json_roundtrip_keeps_tuples():
    # fails: JSON has no tuple type, so the pair comes back as a list
    assert json.loads(json.dumps({"pair": (1, 2)})) == {"pair": (1, 2)}


def test_casefold_matches_german_sharp_s():
    assert "Straße".casefold() == "strasse"


def test_upper_then_lower_is_identity():
    # fails: "ß".upper() is "SS", which lowers to "ss"
    assert "ß".upper().lower() == "ß"


def test_nfc_composes_accents():
    assert unicodedata.normalize("NFC", "e\u0301") == "é"


def test_split_collapses_whitespace():
    assert " a \t b\n c ".split() == ["a", "b", "c"]
