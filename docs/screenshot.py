"""Refresh docs/chat.png: ask a running web chat a first question, start a new chat, ask the question, and
photograph the cited answer with its citation opened and the saved conversations listed. With --page-view, refresh docs/page-view.png instead: the first citation's PDF page, its quote marked.
With --stages, docs/answer-stages.png: the answer on its way (the passages found and the model's reading, before
its text). With --phone, docs/phone.png: three answers in a 390-pixel-wide window.
Usage: assistant serve & .venv/bin/python docs/screenshot.py [URL] [QUESTION] [--page-view | --stages | --phone]"""

import sys
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402  (the browser the tests use)

page_view, stages, phone = ("--page-view" in sys.argv, "--stages" in sys.argv, "--phone" in sys.argv)
args = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
url = args[0] if args else "http://127.0.0.1:7860/"
question = args[1] if len(args) > 1 else "How many Armenian soldiers were wounded, and where?"
with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 390, "height": 844} if phone else {"width": 1280, "height": 800})
    page.goto(url)
    box = page.locator("#question textarea")
    if stages:
        box.fill(question)
        box.press("Enter")
        page.locator("#conversation .turn.pending .reading").wait_for(timeout=300_000)
        page.screenshot(path=str(Path(__file__).with_name("answer-stages.png")))
        browser.close()
        sys.exit()
    if phone:
        for asked in ("Which village was shelled?", question, "Who said so?"):
            box.fill(asked)
            box.press("Enter")
            expect(page.locator("#conversation .turn:not(.pending) .question").last).to_have_text(asked,
                                                                                                timeout=300_000)
        page.screenshot(path=str(Path(__file__).with_name("phone.png")))
        browser.close()
        sys.exit()
    if not page_view:  # an earlier conversation, so the list of saved ones has two
        page.locator("#question textarea").fill("Which village was shelled?")
        page.locator("#question textarea").press("Enter")
        expect(page.locator("#conversation .turn:not(.pending) .answer")).to_be_visible(timeout=300_000)
        page.locator("#new-chat").click()
    page.locator("#question textarea").fill(question)
    page.locator("#question textarea").press("Enter")
    citation = page.locator("#conversation .turn:not(.pending) details.citation").first
    expect(citation).to_be_visible(timeout=300_000)
    citation.locator("summary").click()
    if page_view:
        citation.locator("button.open-document[data-view=page]").click()
        viewer = page.locator("#document-viewer .page-view")
        expect(viewer.locator("mark.page-highlight").first).to_be_visible(timeout=60_000)
        viewer.screenshot(path=str(Path(__file__).with_name("page-view.png")))
    else:
        page.get_by_label("Saved conversations").click()  # the list open, newest first
        page.get_by_role("option").first.wait_for()
        page.screenshot(path=str(Path(__file__).with_name("chat.png")))
    browser.close()
