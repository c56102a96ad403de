"""The othertags JSON of entries with the tags of their format: the same text as
:func:`ccstore.rows.othertags_json` gives, whatever the keys and values."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ccstore.logs import LogParser
from ccstore.rows import othertags_json

KEYS = st.one_of(st.sampled_from(["pid", "unit", "loglevel", "location", "hostname", "type",
                                  "cluster", "%s", "a%%b", 'q"k', "sd.x@1.p", "é"]),
                 st.text(max_size=8))
VALUES = st.text(max_size=12)


@given(st.sampled_from(["debug", "info", "warn", "error"]),
       st.lists(st.dictionaries(KEYS, VALUES, max_size=5), min_size=1, max_size=4),
       st.sampled_from([None, "/var/log/x%s.log", '/q"uote']))
def test_tagged_is_othertags_json(level, tag_dicts, location):
    p = LogParser("syslog", location=location)
    base = {"location": location} if location else {}
    for tags in tag_dicts + tag_dicts:  # twice: templates and shared objects reused
        assert p._tagged(level, tags) == othertags_json({**base, **tags, "loglevel": level})


def test_values_that_are_not_text():
    p = LogParser("syslog", location="/l")
    tags = {"n": 5, "x": None}
    assert p._tagged("info", tags) == othertags_json({"location": "/l", **tags,
                                                      "loglevel": "info"})
