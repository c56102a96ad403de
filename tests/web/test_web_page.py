"""The web page in a real headless Chromium against a real server: search, histogram
zoom, facets, context, groups, the job view, the live tail, keys and the URL, the
token prompt.  Every wait is on a DOM condition with a bounded timeout."""
from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any, List

from webdata import JOB, line, url

#: how long a line committed while the live view is open may take to show
TAIL_DEADLINE_MS = 1000
#: the status line says how many records are listed
LISTED = ("() => !document.body.dataset.loading && "
          "/\\brecords?\\b/.test(document.getElementById('status').textContent)")


def rows(page: Any) -> List[dict]:
    """The rows in the DOM: time, level, host, message."""
    return page.eval_on_selector_all(
        "#list .row", """rs => rs.map(r => ({
            t: r.querySelector('.t').textContent, lv: r.querySelector('.lv').textContent,
            h: r.querySelector('.h').textContent, m: r.querySelector('.m').textContent}))""")


def search(page: Any, server: Any, q: str, query: str = "") -> None:
    page.goto(url(server, query))
    page.fill("#q", q)
    page.press("#q", "Enter")
    wait_results(page, q)


def wait_results(page: Any, q: str) -> None:
    """Until the list shows the answer to ``q`` (the status line is written last)."""
    page.wait_for_function(
        """q => (new URLSearchParams(location.search).get('q') || '') === q &&
               !document.body.dataset.loading &&
               /\\brecords?\\b|No records/.test(document.getElementById('status').textContent)""",
        arg=q)


def test_a_query_shows_the_matching_rows_newest_first(page, web_server) -> None:
    search(page, web_server, "level:error host:n002")
    got = rows(page)
    assert got and all(r["h"] == "n002" and r["lv"] == "error" for r in got), got[:5]
    api = web_server.call("GET", "/api/search?" + urllib.parse.urlencode(
        {"q": "level:error host:n002", "start": "-1h"})).json()["records"]
    assert [r["m"] for r in got] == [r["message"] for r in api][:len(got)]
    times = [r["t"] for r in got]
    assert times == sorted(times, reverse=True)
    assert "records" in page.text_content("#status")


def test_dragging_over_the_histogram_zooms_the_range(page, web_server) -> None:
    search(page, web_server, "host:n001")
    before = len(rows(page))
    box = page.locator("#chart .u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.80, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.90, y, steps=5)
    page.mouse.up()
    page.wait_for_function("() => new URLSearchParams(location.search).has('start')")
    wait_results(page, "host:n001")
    params = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)
    start, end = params["start"][0], params["end"][0]
    assert start < end
    assert page.input_value("#range") == "abs"
    page.wait_for_function("n => document.querySelectorAll('#list .row').length < n",
                           arg=before)
    api = web_server.call("GET", "/api/search?" + urllib.parse.urlencode(
        {"q": "host:n001", "start": start, "end": end})).json()["records"]
    assert len(rows(page)) == len(api) < before


def test_clicking_a_bar_narrows_to_it(page, web_server) -> None:
    search(page, web_server, "")
    box = page.locator("#chart .u-over").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] - 3)
    page.wait_for_function("() => new URLSearchParams(location.search).has('start')")
    params = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)
    hits = web_server.call("GET", "/api/hits?start=-1h&buckets=80").json()
    span = (time.mktime(time.strptime(params["end"][0], "%Y-%m-%dT%H:%M:%SZ"))
            - time.mktime(time.strptime(params["start"][0], "%Y-%m-%dT%H:%M:%SZ")))
    assert span == hits["interval_s"]


def test_a_facet_click_adds_and_excludes_a_value(page, web_server) -> None:
    search(page, web_server, "level:warn")
    page.click("#facets button.fv[data-field='host'][data-value='n003']")
    wait_results(page, "level:warn host:n003")
    got = rows(page)
    assert got and {r["h"] for r in got} == {"n003"}
    page.click("#facets li:has(button.fv[data-value='n003']) button.fx")
    wait_results(page, "level:warn host:n003 -host:n003")
    assert page.text_content("#status") == "No records match."


def test_a_rows_context_shows_the_lines_around_it_on_its_host(page, web_server) -> None:
    search(page, web_server, '"ctx needle line"')
    page.click("#list .row")
    page.click("#list .row .ctx-btn")
    page.wait_for_selector("#list .ctx .cl.self")
    ctx = page.eval_on_selector_all("#list .ctx .cl", "cs => cs.map(c => [c.className, "
                                    "c.querySelector('.m').textContent])")
    texts = [m for _, m in ctx]
    i = texts.index("ctx needle line")
    assert ctx[i][0] == "cl self"
    assert texts[i - 2:i + 3] == ["ctx before two", "ctx before one", "ctx needle line",
                                  "ctx after one", "ctx after two"], ctx
    assert all(not m.startswith("ctx other host") for m in texts)  # n004's lines only
    tags = page.text_content("#list .row.open .tags")
    assert "n004" in tags and "alex" in tags and "loglevel" in tags


def test_the_grouped_view_shows_a_message_across_hosts(page, web_server) -> None:
    page.goto(url(web_server, "?view=group&q=LustreError"))
    page.wait_for_selector("table.groups td.tmpl")
    groups = page.eval_on_selector_all(
        "table.groups tr:has(td)", "trs => trs.map(tr => [...tr.children].map(td => "
                                   "td.textContent))")
    assert groups[0][0] == "4" and groups[0][1] == "n[001-004]", groups
    assert "LustreError: evicted by MDS" in groups[0][2]
    page.click("table.groups button.hl")
    wait_results(page, "LustreError host:n[001-004]")
    assert len(rows(page)) == 4


def test_the_job_view_shows_the_job_and_its_logs(page, web_server) -> None:
    page.goto(url(web_server, "?view=job"))
    page.fill("#job-id", JOB)
    page.press("#job-id", "Enter")
    page.wait_for_selector("#jobinfo .jobcard")
    info = page.text_content("#jobinfo")
    assert "n[001-002]" in info and "running" in info and "alex" in info
    page.wait_for_function(LISTED)
    got = rows(page)
    assert got and {r["h"] for r in got} == {"n001", "n002"}
    assert f"job={JOB}" in page.url
    page.wait_for_selector("#chart .u-over")
    page.wait_for_selector("#facets button.fv[data-field='host'][data-value='n001']")


def test_the_live_tail_shows_a_line_committed_after_the_page_opened(page, web_server) -> None:
    page.goto(url(web_server, "?view=tail&q=tailneedle"))
    page.wait_for_function("() => /^Live/.test(document.getElementById('tailinfo').textContent)")
    r = web_server.write(line("ccb", "n002", "warn", "tailneedle written later",
                              time.time_ns()) + "\n")
    assert r.status == 204  # committed now
    page.wait_for_function(
        "() => [...document.querySelectorAll('#list .row .m')].some(m => "
        "m.textContent === 'tailneedle written later')", timeout=TAIL_DEADLINE_MS)
    assert "1 lines" in page.text_content("#tailinfo")
    page.click("#pause")
    page.wait_for_function("() => /^Paused/.test(document.getElementById('tailinfo').textContent)")
    page.click("#pause")
    page.wait_for_function("() => /^Live/.test(document.getElementById('tailinfo').textContent)")


def test_the_url_holds_the_state_and_back_restores_it(page, web_server) -> None:
    search(page, web_server, "host:n001")
    page.fill("#q", "host:n002")
    page.press("#q", "Enter")
    wait_results(page, "host:n002")
    page.go_back()
    wait_results(page, "host:n001")
    assert page.input_value("#q") == "host:n001"
    assert {r["h"] for r in rows(page)} == {"n001"}
    page.click("#list")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"


def test_the_page_fits_400_pixels(page, web_server) -> None:
    page.set_viewport_size({"width": 400, "height": 800})
    search(page, web_server, "host:n003")
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    assert page.locator("#list .row").first.is_visible()
    page.click("#facets-toggle")
    assert page.locator("#facets button.fv").first.is_visible()


def test_ten_thousand_rows_scroll_with_only_the_rows_in_view_in_the_dom(page, web_server
                                                                        ) -> None:
    now = time.time_ns()
    bulk = "".join(line("bulk", f"b{i % 50:03d}", "info", f"bulk line {i}", now - i * 10**6)
                   + "\n" for i in range(10_000))
    assert web_server.write(bulk).status == 204
    search(page, web_server, "name:bulk")
    for _ in range(20):  # a page of 1000 per scroll to the end
        status = page.text_content("#status")
        if status.startswith("10,000 records"):
            break
        page.eval_on_selector("#list", "l => { l.scrollTop = l.scrollHeight; }")
        page.wait_for_function("s => document.getElementById('status').textContent !== s",
                               arg=status)
    assert page.text_content("#status").startswith("10,000 records")
    assert page.locator("#list .row").count() < 100
    page.eval_on_selector("#list", "l => { l.scrollTop = 24 * 5000; }")
    page.wait_for_function("() => [...document.querySelectorAll('#list .row .m')].some("
                           "m => m.textContent === 'bulk line 5000')")


def test_the_token_prompt_asks_once_and_says_why(page, auth_server) -> None:
    server, keys = auth_server
    page.goto(url(server))
    page.wait_for_selector("#tokendlg[open]")
    assert page.text_content("#tokenmsg").startswith("This server needs a token")
    page.fill("#token", keys.token(exp=int(time.time()) - 60))
    page.click("#token-ok")
    page.wait_for_function("() => document.getElementById('tokendlg').dataset.state === 'expired'")
    assert page.text_content("#tokenmsg").startswith("Your token has expired")
    page.fill("#token", "not.a.token")
    page.click("#token-ok")
    page.wait_for_function("() => document.getElementById('tokendlg').dataset.state === 'refused'")
    assert page.text_content("#tokenmsg").startswith("The server refused the token: ")
    good = keys.token()
    page.fill("#token", good)
    page.click("#token-ok")
    page.wait_for_function(LISTED)
    assert [r["m"] for r in rows(page)] == ["guarded line"]
    assert page.evaluate("sessionStorage.getItem('ccstore.token')") == good
    page.reload()
    page.wait_for_function(LISTED)
    assert not page.locator("#tokendlg[open]").count()
    assert json.loads(json.dumps(rows(page)))[0]["m"] == "guarded line"


def test_the_search_box_completes_field_names_and_values(page, web_server) -> None:
    search(page, web_server, "name:ccb")  # its facets: the values to complete from
    page.wait_for_selector("#facets button.fv[data-field='host']")
    page.fill("#q", "")
    page.keyboard.type("ho")
    page.wait_for_selector("#suggest:not([hidden]) li")
    assert page.eval_on_selector_all("#suggest li", "ls => ls.map(l => l.textContent)") == \
        ["host:"]
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    assert page.input_value("#q") == "host:"
    page.keyboard.type("n00")
    page.wait_for_function("() => document.querySelectorAll('#suggest li').length >= 4")
    values = page.eval_on_selector_all("#suggest li", "ls => ls.map(l => l.textContent)")
    assert {"host:n001", "host:n002", "host:n003", "host:n004"} <= set(values), values
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")  # takes the completion, does not search yet
    assert page.input_value("#q") == values[0] + " "
    page.keyboard.press("Enter")
    wait_results(page, values[0])
    assert {r["h"] for r in rows(page)} == {values[0].split(":")[1]}


def test_a_job_event_on_the_timeline_opens_its_job(page, web_server) -> None:
    search(page, web_server, "host:n001")
    mark = page.locator("#timeline .tl-mark[data-name='start_job']")
    mark.click()
    page.wait_for_selector("#jobinfo .jobcard")
    assert f"job={JOB}" in page.url and "view=job" in page.url
    assert "n[001-002]" in page.text_content("#jobinfo")


def test_the_records_can_be_read_with_the_keyboard(page, web_server) -> None:
    search(page, web_server, '"ctx needle line" OR "ctx after one"')
    page.focus("#list")
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert page.text_content("#list .row.sel .m") == "ctx needle line"
    page.keyboard.press("k")
    assert page.text_content("#list .row.sel .m") == "ctx after one"
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_selector("#list .row.open .tags")
    page.keyboard.press("c")
    page.wait_for_selector("#list .row.open .ctx .cl.self")


def test_the_live_view_says_how_many_lines_it_skipped(page, web_server) -> None:
    page.goto(url(web_server, "?view=tail&q=name%3Aflood"))
    page.wait_for_function("() => /^Live/.test(document.getElementById('tailinfo').textContent)")
    now = time.time_ns()
    n = 12_000  # more than a page (5,000) of the server's tail at once
    flood = "".join(line("flood", f"f{i % 10:03d}", "info", f"flood {i}", now + i * 1000)
                    + "\n" for i in range(n))
    assert web_server.write(flood).status == 204
    page.wait_for_function(
        """n => { const t = document.getElementById('tailinfo').textContent;
                  const num = (re) => Number(((t.match(re) || [])[1] || '0').replace(/,/g, ''));
                  return num(/([\\d,]+) lines/) + num(/skipped ([\\d,]+)/) === n; }""", arg=n)
    info = page.text_content("#tailinfo")
    assert "by the server" in info, info
    newest = page.text_content("#list .row .m")
    assert newest == f"flood {n - 1}"
