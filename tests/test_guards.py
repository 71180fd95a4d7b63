"""Login throttling and upload bounds: the policy with a fake clock, then a real server behind a login,
reached over plain HTTP (as the login page and gradio_client reach it)."""

from __future__ import annotations

import http.client
import logging
import threading
import time
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import requests
from gradio_client import handle_file

from assistant.access import FORGET_AFTER_S, MAX_LOCKOUT_S, LoginThrottle
from assistant.services import Services
from assistant.settings import load_settings
from tests.test_ui import client, free_port

USER, PASSWORD = "reader", "s3cret"


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_allows_attempts_then_waits_doubling_until_a_right_password():
    clock = FakeClock()
    throttle = LoginThrottle(attempts=3, lockout_s=10, clock=clock)
    assert [throttle.attempt("a") for _ in range(3)] == [0, 0, 0]  # the third miss starts the wait
    assert throttle.attempt("a") == 10 and throttle.misses("a") == 3  # refused, not counted
    assert throttle.attempt("b") == 0  # another address is not held up
    clock.now += 4
    assert throttle.attempt("a") == 6
    clock.now += 6
    assert throttle.attempt("a") == 0 and throttle.wait("a") == 20  # a further miss: twice as long
    clock.now += 20
    assert throttle.attempt("a") == 0 and throttle.wait("a") == 40
    throttle.succeeded("a")  # that one was the right password: start afresh
    assert throttle.misses("a") == 0 and throttle.attempt("a") == 0 and throttle.wait("a") == 0


def test_throttle_caps_the_wait_and_forgets_old_misses():
    clock = FakeClock()
    throttle = LoginThrottle(attempts=1, lockout_s=60, clock=clock)
    for _ in range(200):  # 2**199 minutes, were it not capped
        throttle.attempt("a")
        clock.now += throttle.wait("a")
    assert throttle.attempt("a") == 0 and throttle.wait("a") == MAX_LOCKOUT_S
    longer = LoginThrottle(attempts=1, lockout_s=2 * MAX_LOCKOUT_S, clock=clock)
    assert longer.attempt("b") == 0 and longer.wait("b") == 2 * MAX_LOCKOUT_S  # a longer first wait is kept
    patient = LoginThrottle(attempts=2, lockout_s=60, clock=clock)
    patient.attempt("c")
    clock.now += FORGET_AFTER_S + 1
    assert patient.attempt("c") == 0 and patient.wait("c") == 0  # yesterday's typo is not a second miss


def test_throttle_counts_parallel_guesses():
    throttle = LoginThrottle(attempts=5, lockout_s=60)
    waits, start = [], threading.Barrier(40)

    def guess():
        start.wait()
        waits.append(throttle.attempt("10.0.0.9"))

    threads = [threading.Thread(target=guess) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits)[:6] == [0, 0, 0, 0, 0, pytest.approx(60, abs=1)]  # only five were checked


# ----- a real server behind a login ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, embedder):
    from ui.app import launch

    base = tmp_path_factory.mktemp("guards")
    services = Services(load_settings(home=str(base / "home"), login_lockout_s=1, max_upload_files=2,
                                      max_upload_mb=1))
    services.embedder = embedder
    app, url = launch(services, "127.0.0.1", free_port(), (USER, PASSWORD), block=False)
    yield SimpleNamespace(url=url, home=base / "home")
    app.close()


def login(url: str, password: str, **headers) -> requests.Response:
    """As the login page sends it: a multipart form with username and password."""
    return requests.post(f"{url}login", files={"username": (None, USER), "password": (None, password)},
                         headers=headers, timeout=30)


def test_wrong_passwords_are_refused_for_a_while_then_the_right_one_works(guarded, caplog):
    caplog.set_level(logging.INFO, logger="ui.http_guards")
    assert [login(guarded.url, "wrong").status_code for _ in range(5)] == [400] * 5
    refused = login(guarded.url, "wrong")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert refused.json()["detail"] == "Too many wrong passwords from your address: wait 1 s, then try again."
    assert login(guarded.url, PASSWORD).status_code == 429  # the right one too, while the address waits
    # A client cannot name another address: X-Forwarded-For counts only from trusted_proxies (none here).
    assert login(guarded.url, PASSWORD, **{"X-Forwarded-For": "203.0.113.7"}).status_code == 429
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings[-1] == "wrong password from 127.0.0.1 (5 in a row); its next login is refused for 1 s"
    assert any("login from 127.0.0.1 refused" in r.getMessage() for r in caplog.records)

    time.sleep(int(refused.headers["Retry-After"]) + 0.1)
    signed_in = client(guarded.url, auth=(USER, PASSWORD))  # gradio_client's own login, after the wait
    assert signed_in.predict(api_name="/documents") == []
    assert login(guarded.url, "wrong").status_code == 400  # a right password cleared the count


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_count(tmp_path, embedder):
    from ui.app import launch

    services = Services(load_settings(home=str(tmp_path / "home"), login_lockout_s=60, login_attempts=2,
                                      trusted_proxies=["127.0.0.1"]))
    services.embedder = embedder
    app, url = launch(services, "127.0.0.1", free_port(), (USER, PASSWORD), block=False)
    try:
        held = {"X-Forwarded-For": "203.0.113.7"}
        assert [login(url, "wrong", **held).status_code for _ in range(3)] == [400, 400, 429]
        assert login(url, PASSWORD, **{"X-Forwarded-For": "198.51.100.2"}).status_code == 200  # another client
        assert login(url, PASSWORD, **held).status_code == 429
    finally:
        app.close()


def test_an_upload_of_too_many_files_is_refused_with_the_setting_named(guarded, tmp_path):
    files = []
    for name in ("one.txt", "two.txt", "three.txt"):
        (tmp_path / name).write_text(f"The {name[:-4]} report says the ferry left at noon.", encoding="utf-8")
        files.append(handle_file(tmp_path / name))
    signed_in = client(guarded.url, auth=(USER, PASSWORD))
    with pytest.raises(Exception, match=r"3 files in one upload; at most 2 may be added at once \(setting "
                                        r"max_upload_files\)"):
        signed_in.predict(files, api_name="/upload")
    assert not (guarded.home / "documents").exists() or not any((guarded.home / "documents").iterdir())
    report = signed_in.predict(files[:2], api_name="/upload")
    assert [p.rsplit("/", 1)[1] for p in report["added"]] == ["one.txt", "two.txt"]


def test_an_upload_request_over_max_upload_mb_is_refused_before_its_body_is_read(guarded):
    too_big = "This upload is 600.0 MB; one upload may hold at most 1 MB (setting max_upload_mb)."
    where = urlsplit(guarded.url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    connection.putrequest("POST", "/gradio_api/upload")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(600_000_000))
    connection.endheaders()  # headers only: the answer must come without a byte of the body
    answer = connection.getresponse()
    assert answer.status == 413 and answer.read().decode().startswith(too_big)
    connection.close()

    body = requests.post(f"{guarded.url}gradio_api/upload", files={"files": ("big.txt", b"word " * 300_000)},
                         timeout=30)  # 1.5 MB really sent
    assert body.status_code == 413 and "at most 1 MB (setting max_upload_mb)" in body.text
    unsized = requests.post(f"{guarded.url}gradio_api/upload", data=iter([b"--x\r\n"]), timeout=30)  # chunked
    assert unsized.status_code == 411 and "Content-Length" in unsized.text
