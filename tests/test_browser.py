"""The page in real headless Chromium (Playwright driving Debian's chromium): ask, read the cited answer,
open the citation and its document, follow up, download, upload; hostile documents never run code; and the
page never asks any host but this one.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.test_ui import ORRIN, launch_on

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Every way a document or a file name could try to run code in the page; each would set window.__pwned.
HOSTILE_NAME = '<img src=x onerror="window.__pwned=1">.txt'
HOSTILE_TEXT = (
    "Lighthouse notes\n\n"
    "The Quorvane lighthouse was first lit in 1887 by keeper Ansel Brack. "
    '<script>window.__pwned = 2; document.title = "pwned"</script> '
    '<img src=x onerror="window.__pwned=3"> <svg onload="window.__pwned=4"></svg> '
    "${window.__pwned=5} {{constructor.constructor('window.__pwned=6')()}} "
    "Its lamp can be seen from 40 kilometres away.\n"
)

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (make test installs it)")


@pytest.fixture(scope="module")
def site(tmp_path_factory, embedder):
    base = tmp_path_factory.mktemp("browser")
    launched = launch_on(base, embedder, extra_files={HOSTILE_NAME: HOSTILE_TEXT})
    yield launched
    launched.app.close()


@pytest.fixture(scope="module")
def page(site):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page = context.new_page()
        page.requested_hosts = set()
        page.on("request", lambda request: page.requested_hosts.add(urlparse(request.url).hostname))
        page.goto(site.url)
        yield page
        browser.close()


def ask(page: Page, question: str) -> None:
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    expect(page.locator("#conversation .turn:not(.pending)").last.locator(".question")).to_have_text(question,
                                                                                                    timeout=60_000)


def test_ask_see_the_cited_answer_and_open_its_quote(page):
    ask(page, "When did Mount Orrin last erupt?")
    turn = page.locator("#conversation .turn").last
    expect(turn.locator(".answer")).to_contain_text("1931")
    expect(turn.locator("a.marker").first).to_have_text("1")
    citation = turn.locator("details.citation").first
    expect(citation.locator(".source")).to_contain_text("volcano.md")
    expect(citation.locator("q.quote")).to_have_text(ORRIN)
    turn.locator("a.marker").first.click()  # the [1] marker opens its citation
    expect(citation.locator(".context mark.cited")).to_be_visible()
    expect(citation.locator(".context mark.cited")).to_have_text(ORRIN)
    citation.locator("button.open-document").click()
    expect(page.locator("#document-viewer .document-title")).to_contain_text("volcano.md")
    expect(page.locator("#document-viewer mark.cited")).to_have_text(ORRIN)
    expect(page.locator("#document-viewer .document-text")).to_contain_text("Geologists monitor it")


def test_copy_an_answer_with_its_sources(page, site):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    copy = page.locator("#conversation .turn").last.locator("button.copy")
    copy.click()
    expect(copy).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("Mount Orrin last erupted in 1931") and "\n\nSources:\n[1] " in copied
    assert copied.endswith(f'volcano.md: "{ORRIN}"')


def test_rate_an_answer_with_a_comment(page, site):
    page.once("dialog", lambda dialog: dialog.accept("the year is right"))
    page.locator("#conversation .turn").last.locator("button.rate[data-rating='up']").click()
    expect(page.get_by_text("the rating is saved")).to_be_visible()
    rating = site.services.feedback.entries()[-1]
    assert rating.rating == "up" and rating.comment == "the year is right"
    assert rating.answer.question == "When did Mount Orrin last erupt?" and rating.answer.citations[0].quote == ORRIN


def test_follow_up_download_and_new_chat(page):
    expect(page.locator("#document-viewer .document-title")).to_have_count(1)  # left open by the last test
    ask(page, "How tall is it?")
    expect(page.locator("#document-viewer .document-title")).to_have_count(0)  # a new question closes it
    expect(page.locator("#conversation .turn").last.locator("q.quote").first).to_have_text(
        "The summit stands 3,120 metres above sea level.")
    with page.expect_download() as download:
        page.locator("#download").click()
    markdown = Path(download.value.path()).read_text(encoding="utf-8")
    assert "## 2. How tall is it?" in markdown and f"> {ORRIN}" in markdown
    page.locator("#new-chat").click()
    expect(page.locator("#conversation .turn")).to_have_count(0)


def test_a_pdf_citation_shows_its_page_with_the_quote_marked(page):
    ask(page, "How many loaves of rye bread does the Halvard Bakery sell?")
    citation = page.locator("#conversation .turn").last.locator("details.citation").first
    expect(citation.locator(".source")).to_contain_text("bakery.pdf, p. 1")
    citation.locator("summary").click()
    citation.locator("button.open-document[data-view=page]").click()
    viewer = page.locator("#document-viewer .page-view")
    expect(viewer.locator(".document-title")).to_contain_text("bakery.pdf, p. 1")
    highlight = viewer.locator("mark.page-highlight")
    expect(highlight).to_have_count(1)
    expect(highlight).to_be_visible()
    image = viewer.locator(".page-canvas img")
    assert image.evaluate("img => img.complete && img.naturalWidth") > 500
    # The mark lies on the page image, over the first lines of text (the quote is the first sentence).
    image_box, mark_box = image.bounding_box(), highlight.bounding_box()
    assert image_box["x"] <= mark_box["x"] and mark_box["x"] + mark_box["width"] <= image_box["x"] + image_box["width"]
    assert image_box["y"] <= mark_box["y"] < image_box["y"] + 0.2 * image_box["height"]
    page.locator("#new-chat").click()


def test_abstention_is_shown_as_such(page):
    ask(page, "What is the boiling point of mercury?")
    expect(page.locator("#conversation .answer.abstained")).to_contain_text("Not in the documents")


def test_hostile_document_and_file_name_are_shown_as_text(page):
    ask(page, "When was the Quorvane lighthouse first lit?")
    citation = page.locator("#conversation details.citation").first
    expect(citation.locator(".source")).to_contain_text(HOSTILE_NAME)
    citation.locator("summary").click()
    expect(citation.locator(".context")).to_contain_text("<script>window.__pwned = 2")
    citation.locator("button.open-document").click()
    expect(page.locator("#document-viewer .document-text")).to_contain_text("{{constructor.constructor")
    page.locator("button[role=tab]", has_text="Documents").click()
    expect(page.locator("#documents-table")).to_contain_text(HOSTILE_NAME)
    page.wait_for_timeout(500)  # give any injected handler its chance to run
    assert page.evaluate("window.__pwned") is None
    assert page.title() != "pwned"


def upload_through_the_page(page: Page, upload: Path, listed_as: str) -> None:
    """Add a file on the documents tab, see it indexed and listed, and go back to the chat."""
    page.locator("button[role=tab]", has_text="Documents").click()
    page.locator("#upload-files input[type=file]").set_input_files(str(upload))
    page.locator("#add-documents").click()
    expect(page.locator("#index-report")).to_contain_text("added 1", timeout=60_000)
    expect(page.locator("#documents-table")).to_contain_text(listed_as)
    page.locator("button[role=tab]", has_text="Chat").click()


def test_upload_through_the_page(page, tmp_path):
    upload = tmp_path / "tides.txt"
    upload.write_text("The Varnholt tide gauge recorded a record surge of 4.7 metres in January.\n")
    upload_through_the_page(page, upload, "tides.txt")
    ask(page, "What surge did the Varnholt tide gauge record?")
    expect(page.locator("#conversation .turn").last.locator(".source").first).to_contain_text("documents/tides.txt")


def test_a_backend_that_cannot_start_says_why_and_gives_the_question_back(page):
    page.locator("button[role=tab]", has_text="Chat").click()
    backend = page.get_by_label("Answer writer")
    backend.click()
    page.get_by_role("option", name="openai").click()
    page.locator("#question textarea").fill("When did Mount Orrin last erupt?")
    page.locator("#question textarea").press("Enter")
    expect(page.get_by_text("--llm-url").first).to_be_visible(timeout=30_000)
    expect(page.locator("#question textarea")).to_have_value("When did Mount Orrin last erupt?")
    backend.click()
    page.get_by_role("option", name="none").click()


def test_a_conversation_survives_a_reload_and_continues(page):
    page.locator("#new-chat").click()
    ask(page, "When did Mount Orrin last erupt?")
    page.reload()
    expect(page.locator("#conversation .turn")).to_have_count(0)
    saved = page.get_by_label("Saved conversations")
    saved.click()
    page.get_by_role("option", name="When did Mount Orrin last erupt?").first.click()
    page.locator("#open-conversation").click()
    expect(page.locator("#conversation .turn")).to_have_count(1)
    expect(page.locator("#conversation .turn").last.locator("q.quote").first).to_have_text(ORRIN)
    ask(page, "How tall is it?")  # a follow-up in the reopened conversation: its history is the saved one
    expect(page.locator("#conversation .turn")).to_have_count(2)
    expect(page.locator("#conversation .turn").last.locator("q.quote").first).to_have_text(
        "The summit stands 3,120 metres above sea level.")


def test_a_new_collection_holds_only_what_is_uploaded_to_it(page, site, tmp_path):
    upload = tmp_path / "beacons.txt"
    upload.write_text("The Orsk beacon flashes green every nine seconds from the harbour wall.\n")
    picker = page.get_by_label("Collection")
    picker.fill("beacons")
    picker.press("Enter")
    page.locator("button[role=tab]", has_text="Documents").click()
    expect(page.locator("#documents-table")).not_to_contain_text("volcano.md")  # the new collection is empty
    # Typing a name shows it empty; it exists once something is added to it.
    assert "beacons" not in site.services.store.collection_names()
    assert not (site.home / "collections" / "beacons").exists()
    upload_through_the_page(page, upload, "collections/beacons/documents/beacons.txt")
    ask(page, "How often does the Orsk beacon flash?")
    expect(page.locator("#conversation .turn").last.locator(".source").first).to_contain_text("beacons.txt")
    picker.click()
    page.get_by_role("option", name="documents", exact=True).click()
    ask(page, "How often does the Orsk beacon flash?")
    expect(page.locator("#conversation .turn").last.locator(".answer.abstained")).to_be_visible()


def test_a_waiting_question_shows_its_place_and_can_be_cancelled(page, tmp_path, embedder):
    modelled = launch_on(tmp_path, embedder, llm="local", model="small")  # the page's default writer: a model
    tab = page.context.new_page()
    try:
        tab.goto(modelled.url)
        question = "When did Mount Orrin last erupt?"
        box = tab.locator("#question textarea")
        line = modelled.services.model_line  # the line the page's answers join
        with line.place() as busy:  # another user's question is being written
            assert busy.admitted(0)
            box.fill(question)
            box.press("Enter")
            waiting = tab.locator("#conversation .turn.pending .waiting")
            expect(waiting).to_contain_text("Waiting for the model to finish another question", timeout=60_000)
            tab.locator("#cancel").click()
            expect(tab.locator("#conversation .turn.pending")).to_have_count(0)
            expect(box).to_have_value(question)  # given back to edit or ask again
            deadline = time.monotonic() + 10
            while line.waiting and time.monotonic() < deadline:
                time.sleep(0.1)
            assert line.waiting == 0  # the cancelled question left the line
            box.press("Enter")
            expect(waiting).to_be_visible(timeout=30_000)
            tab.keyboard.press("Escape")  # Esc cancels too
            expect(tab.locator("#conversation .turn.pending")).to_have_count(0)
            expect(box).to_have_value(question)
            deadline = time.monotonic() + 10
            while line.waiting and time.monotonic() < deadline:
                time.sleep(0.1)
            box.press("Enter")
            expect(waiting).to_be_visible(timeout=30_000)
        # The model is free: the waiting question goes in and is answered.
        answered = tab.locator("#conversation .turn:not(.pending)").last
        expect(answered.locator(".question")).to_have_text(question, timeout=60_000)
        expect(answered.locator(".answer")).to_contain_text("1931")
    finally:
        tab.close()
        modelled.app.close()


# Records, in the page, when each stage of an answer first appears (ms since the question was sent).
STAGES_JS = """() => {
  window.__stages = {};
  const seen = {found: '.turn.pending .found', reading: '.turn.pending .reading',
                writing: '.turn.pending .answer.streaming', answered: '.turn:not(.pending) .answer'};
  const start = performance.now();
  new MutationObserver(() => {
    for (const [stage, selector] of Object.entries(seen)) {
      const element = document.querySelector('#conversation ' + selector);
      if (!(stage in window.__stages) && element) {
        window.__stages[stage] = performance.now() - start;
        window.__stages[stage + '_text'] = element.textContent;
      }
    }
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def test_an_answer_comes_in_stages_passages_then_progress_then_text_then_the_checked_answer(page, tmp_path, embedder):
    modelled = launch_on(tmp_path, embedder, llm="local", model="small")
    tab = page.context.new_page()
    try:
        tab.goto(modelled.url)
        tab.evaluate(STAGES_JS)
        box = tab.locator("#question textarea")
        box.fill("When did Mount Orrin last erupt?")
        box.press("Enter")
        answered = tab.locator("#conversation .turn:not(.pending)").last
        expect(answered.locator(".answer")).to_contain_text("1931", timeout=120_000)
        stages = tab.evaluate("window.__stages")
        assert {"found", "reading", "writing", "answered"} <= set(stages), stages
        assert stages["found"] <= stages["reading"] < stages["writing"] < stages["answered"], stages
        assert ORRIN in stages["found_text"] and stages["reading_text"].startswith("The model is reading")
        # The passages found are the quotes, in their context, before a word of the model's.
        tab.evaluate(STAGES_JS)
        box.fill("How tall is Mount Orrin?")
        box.press("Enter")
        expect(tab.locator("#conversation .turn:not(.pending)")).to_have_count(2, timeout=120_000)
        stages = tab.evaluate("window.__stages")
        assert "3,120 metres above sea level" in stages["found_text"]
        # The second answer's reading has an estimate, from the first.
        assert re.match(r"The model is reading \d+ passages? \(about \d+ s\)", stages["reading_text"]), stages
    finally:
        tab.close()
        modelled.app.close()


# Every control on the page and the conversation panel, with their boxes, and whether the panel scrolls itself.
LAYOUT_JS = """() => {
  const boxes = [];
  const visible = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0 ? r : null; };
  for (const el of document.querySelectorAll('#question textarea, #ask, #cancel, #new-chat, #download')) {
    const r = visible(el);
    if (r) boxes.push({name: el.id || el.tagName, top: r.top, bottom: r.bottom, left: r.left, right: r.right});
  }
  const panel = document.querySelector('#conversation');
  const p = panel.getBoundingClientRect();
  const scroller = [panel, ...panel.querySelectorAll('*')].find(
    el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowY) && el.scrollHeight > el.clientHeight);
  const last = [...panel.querySelectorAll('.turn .question')].pop().getBoundingClientRect();
  return {controls: boxes, panel: {top: p.top, bottom: p.bottom, left: p.left, right: p.right},
          last: {top: last.top, bottom: last.bottom},
          scrolls: Boolean(scroller), width: document.documentElement.scrollWidth, viewport: window.innerWidth};
}"""


DEBUG_JS = """() => { const out = []; const el = document.querySelector('#conversation');
  for (const e of [el.parentElement, el, ...el.querySelectorAll(':scope > *'), ...el.querySelectorAll(':scope > * > *')].slice(0, 7)) {
    const cs = getComputedStyle(e);
    out.push([e.tagName, e.id, String(e.className).slice(0, 40), cs.overflowY, cs.maxHeight, e.clientHeight, e.scrollHeight]);
  } return out; }"""


def _overlap(a: dict, b: dict) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


@pytest.mark.parametrize("width,height", [(1280, 800), (390, 844)])
def test_a_long_conversation_with_every_citation_open_scrolls_in_its_panel(page, site, width, height):
    """At a laptop's and a phone's width: ten answers, then every citation opened; the conversation scrolls
    inside its panel (to the last question asked), and no control overlaps it or another."""
    context = page.context.browser.new_context(viewport={"width": width, "height": height})
    tab = context.new_page()
    try:
        tab.goto(site.url)
        questions = ["When did Mount Orrin last erupt?", "How tall is Mount Orrin?", "Who monitors the volcano?",
                     "When does the ferry leave the harbor?", "What does the bakery sell?"] * 2
        for question in questions:
            ask(tab, question)
        expect(tab.locator("#conversation .turn:not(.pending)")).to_have_count(10)
        scrolled = tab.evaluate(LAYOUT_JS)
        assert scrolled["panel"]["top"] <= scrolled["last"]["top"] < scrolled["panel"]["bottom"], scrolled
        tab.evaluate("() => document.querySelectorAll('#conversation details.citation').forEach(d => d.open = true)")
        layout = tab.evaluate(LAYOUT_JS)
        controls = layout["controls"]
        assert len(controls) >= 4, layout
        for control in controls:
            assert not _overlap(control, layout["panel"]), (control, layout["panel"])
        for i, a in enumerate(controls):
            for b in controls[i + 1:]:
                assert not _overlap(a, b), (a, b)
        assert layout["scrolls"], tab.evaluate(DEBUG_JS)
        assert layout["width"] <= layout["viewport"] + 1, layout  # nothing wider than the window
        tab.screenshot(path=str(site.home.parent / f"long-conversation-{width}.png"))
    finally:
        context.close()


def test_the_page_only_talks_to_this_machine(page):
    assert page.requested_hosts == {"127.0.0.1"}, page.requested_hosts
