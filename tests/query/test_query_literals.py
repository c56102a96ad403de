"""The literals a regular expression requires: every match contains them, and their
full-text words (as FTS5 would index the message) are in every such message."""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccstore.query.literals import literal_words, required_literals
from ccstore.query.text import contains, tokens

from regexgen import flagged, message_for

#: SQLite's lower(): ASCII letters only
ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


@SETTINGS
@given(st.data())
def test_every_match_contains_the_literals_and_their_words(data):
    pattern, example = data.draw(flagged())
    rx = re.compile(pattern)
    literals = required_literals(pattern)
    lowered = required_literals(pattern, ignore_case=True)
    for _ in range(4):
        msg = data.draw(message_for(example))
        if rx.search(msg) is None:
            continue
        for lit in lowered:
            assert lit in msg.translate(ASCII_LOWER), (pattern, msg, lit)
            assert lit in msg.lower(), (pattern, msg, lit)
        for lit in literals + lowered:
            if lit in literals:
                assert lit in msg, (pattern, msg, lit)
            words = literal_words(lit)
            if words is not None:
                phrase, prefix = words
                assert contains(tokens(msg), tokens(phrase), prefix), (pattern, msg, words)


@SETTINGS
@given(st.data())
def test_words_of_a_literal_are_in_every_text_around_it(data):
    lit = data.draw(st.text(alphabet="ab01 .:-é\u0301K", min_size=1, max_size=10))
    words = literal_words(lit)
    if words is None:
        return
    around = st.text(alphabet="ab01 .:-é\u0301K", max_size=4)
    msg = data.draw(around) + lit + data.draw(around)
    assert contains(tokens(msg), tokens(words[0]), words[1]), (lit, msg, words)


@pytest.mark.parametrize("pattern, literals", [
    ("jobId: 4242[0-9]{2} ", ("jobId: 4242",)),
    (r"NullPointer\w+ at org\.example", (" at org.example", "NullPointer")),
    ("disk|xid", ()),
    (r"\d+", ()),
    ("(?i)café", ()),
    ("a(?i:bc)de", ("de", "a")),
    ("x(?:ab)+y?z", ("ab", "x", "z")),
    ("x(?:ab)*z", ("x", "z")),
    ("a{0}bc", ("bc",)),
    ("^err", ("err",)),
    ("a\x00b", ("a", "b")),
])
def test_literals(pattern, literals):
    assert required_literals(pattern) == literals


@pytest.mark.parametrize("pattern, lowered", [
    ("(?i)jobid: 4242[0-9]{2} ", ("d: 4242", "job")),
    ("(?i)ERROR at", ("error at",)),
    ("(?i)café", ("caf",)),
    ("a(?i:bC)de", ("bc",)),
    ("(?i)ab(?-i:XY)cd", ("ab", "cd")),
    ("(?i)kiss", ()),
    ("ERROR", ()),
])
def test_literals_ignoring_case(pattern, lowered):
    assert required_literals(pattern, ignore_case=True) == lowered


@pytest.mark.parametrize("literal, words", [
    ("jobId: 4242", ("4242", True)),
    (" at org.example", ("at org example", True)),
    (" at org.example ", ("at org example", False)),
    ("NullPointer", None),
    (" é foo", ("foo", True)),
    (" foo é bar", ("foo", False)),
    (" fooé", ("foo", True)),
    ("é foo", ("foo", True)),
])
def test_literal_words(literal, words):
    assert literal_words(literal) == words
