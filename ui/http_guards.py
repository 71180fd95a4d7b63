"""Limits on the web app's HTTP requests that gradio does not set: wrong passwords per client address
(POST /login) and the size of one upload request (POST /gradio_api/upload). The policy is
assistant/access.py's LoginThrottle; this is the HTTP plumbing.

Starlette refuses add_middleware once the server runs, and gradio's upload route sits in an included
router that FastAPI resolves per request, so the guard wraps the app's whole ASGI stack instead: it sees
every request first and passes all others through untouched."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI
from gradio.route_utils import API_PREFIX
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.access import LoginThrottle
from assistant.settings import Settings

LOGIN_PATH = "/login"
UPLOAD_PATH = f"{API_PREFIX}/upload"
log = logging.getLogger(__name__)


def add_http_guards(server: FastAPI, settings: Settings, login: bool) -> None:
    """Guard the running server: throttle wrong passwords (login: the app has one) and refuse an upload
    request over max_upload_mb by its Content-Length, before its body is read."""
    throttle = LoginThrottle(settings.login_attempts, settings.login_lockout_s) if login else None
    inner = server.middleware_stack or server.build_middleware_stack()
    server.middleware_stack = _Guard(inner, throttle, settings.max_upload_mb)


class _Guard:
    def __init__(self, app: ASGIApp, throttle: LoginThrottle | None, max_upload_mb: float):
        self.app, self.throttle, self.max_upload_mb = app, throttle, max_upload_mb

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"].removeprefix(scope.get("root_path", "")).rstrip("/")
            if path == LOGIN_PATH and self.throttle is not None:
                return await self._login(scope, receive, send)
            if path == UPLOAD_PATH:
                refusal = self._upload_refusal(Headers(scope=scope).get("content-length"))
                if refusal is not None:
                    return await refusal(scope, receive, send)
        await self.app(scope, receive, send)

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The peer's address, or the one a reverse proxy on this machine forwards (uvicorn trusts
        # X-Forwarded-For from loopback only, so a remote client cannot pick its own).
        address = scope["client"][0] if scope.get("client") else "unknown"
        wait = self.throttle.attempt(address)
        if wait:
            log.info("login from %s refused: it must wait %.0f s more after too many wrong passwords", address, wait)
            seconds = math.ceil(wait)
            return await JSONResponse(
                {"detail": f"Too many wrong passwords from your address: wait {seconds} s, then try again."},
                status_code=429, headers={"Retry-After": str(seconds)})(scope, receive, send)
        status = None

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            if status == 200:
                self.throttle.succeeded(address)
            else:
                wait = self.throttle.wait(address)
                log.warning("wrong password from %s (%d in a row)%s", address, self.throttle.misses(address),
                            f"; its next login is refused for {wait:.0f} s" if wait else "")

    def _upload_refusal(self, length: str | None) -> Response | None:
        if length is None or not length.isdigit():
            # Browsers and gradio_client always send it; without it the size is known only once read.
            return PlainTextResponse("An upload must state its size (Content-Length header).", status_code=411)
        if int(length) > self.max_upload_mb * 1e6:
            return PlainTextResponse(
                f"This upload is {int(length) / 1e6:.1f} MB; one upload may hold at most {self.max_upload_mb:g} MB "
                "(setting max_upload_mb). Upload fewer or smaller files at a time.", status_code=413)
        return None
