"""Refresh docs/chat.png: ask a running web chat a question and photograph the cited answer, its citation
opened. Usage: assistant serve & .venv/bin/python docs/screenshot.py [URL] [QUESTION]"""

import sys
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402  (the browser the tests use)

url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7860/"
question = sys.argv[2] if len(sys.argv) > 2 else "How many Armenian soldiers were wounded, and where?"
with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(url)
    page.locator("#question textarea").fill(question)
    page.locator("#question textarea").press("Enter")
    citation = page.locator("#conversation .turn:not(.pending) details.citation").first
    expect(citation).to_be_visible(timeout=300_000)
    citation.locator("summary").click()
    page.screenshot(path=str(Path(__file__).with_name("chat.png")))
    browser.close()
