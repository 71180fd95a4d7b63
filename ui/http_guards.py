"""Limits on the web app's HTTP requests that gradio does not set: wrong passwords (POST /login) and wrong
credentials on /v1 per client address, the size of one upload request (POST /gradio_api/upload) and of one /v1
request. The policy is assistant/access.py's LoginThrottle; this is the HTTP plumbing.

The client address is the peer's, or what X-Forwarded-For says when the peer is one of the trusted_proxies
(uvicorn's ProxyHeadersMiddleware, told by launch() in ui/app.py): a client cannot name its own address.

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
API_PATH = "/v1/"
# A chat completions request holds a question and its history, both bounded in characters (settings); no real
# one comes near this, and the body is read whole before it is parsed.
MAX_API_BYTES = 4_000_000
log = logging.getLogger(__name__)


def add_http_guards(server: FastAPI, settings: Settings, login: bool, api_keys: bool = False) -> None:
    """Guard the running server: throttle wrong passwords and /v1 credentials (when there is a login or an API
    key), refuse an upload request over max_upload_mb and a /v1 request over MAX_API_BYTES by their
    Content-Length, before the body is read."""
    throttle = LoginThrottle(settings.login_attempts, settings.login_lockout_s) if login or api_keys else None
    inner = server.middleware_stack or server.build_middleware_stack()
    server.middleware_stack = _Guard(inner, throttle if login else None, throttle, settings.max_upload_mb)


class _Guard:
    def __init__(self, app: ASGIApp, login: LoginThrottle | None, api: LoginThrottle | None, max_upload_mb: float):
        self.app, self.throttle, self.api, self.max_upload_mb = app, login, api, max_upload_mb

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"].removeprefix(scope.get("root_path", "")).rstrip("/")
            if path.startswith(API_PATH):
                return await self._api(scope, receive, send)
        if scope["type"] == "http" and scope["method"] == "POST":
            if path == LOGIN_PATH and self.throttle is not None:
                return await self._login(scope, receive, send)
            if path == UPLOAD_PATH:
                refusal = self._upload_refusal(Headers(scope=scope).get("content-length"))
                if refusal is not None:
                    return await refusal(scope, receive, send)
        await self.app(scope, receive, send)

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A /v1 request: refused while its address waits after wrong credentials, and over MAX_API_BYTES;
        a 401 counts as a wrong guess (a right key sent many times at once is never counted against it)."""
        address = _client(scope)
        wait = self.api.wait(address) if self.api else 0.0
        length = Headers(scope=scope).get("content-length")
        if wait:
            return await _api_error(429, f"too many wrong credentials from your address: wait {math.ceil(wait)} s",
                                    "rate_limit_error", {"Retry-After": str(math.ceil(wait))})(scope, receive, send)
        if scope["method"] == "POST" and (length is None or not length.isdigit()):
            return await _api_error(411, "a request must state its size (Content-Length header)")(scope, receive, send)
        if scope["method"] == "POST" and int(length) > MAX_API_BYTES:
            return await _api_error(413, f"this request is {int(length) / 1e6:.1f} MB; at most {MAX_API_BYTES / 1e6:g} "
                                    "MB are read")(scope, receive, send)
        watched = _Status(send)
        await self.app(scope, receive, watched)
        if watched.status == 401 and self.api is not None:
            self.api.attempt(address)  # counts the miss; past login_attempts the address waits
            log.warning("wrong /v1 credentials from %s (%d in a row)", address, self.api.misses(address))

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        address = _client(scope)
        wait = self.throttle.attempt(address)
        if wait:
            log.info("login from %s refused: it must wait %.0f s more after too many wrong passwords", address, wait)
            seconds = math.ceil(wait)
            return await JSONResponse(
                {"detail": f"Too many wrong passwords from your address: wait {seconds} s, then try again."},
                status_code=429, headers={"Retry-After": str(seconds)})(scope, receive, send)
        watched = _Status(send)
        try:
            await self.app(scope, receive, watched)
        finally:
            if watched.status == 200:
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


class _Status:
    """A send that passes every message on and remembers the response's status."""

    def __init__(self, send: Send):
        self.send, self.status = send, None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self.send(message)


def _client(scope: Scope) -> str:
    return scope["client"][0] if scope.get("client") else "unknown"


def _api_error(status: int, message: str, kind: str = "invalid_request_error",
               headers: dict[str, str] | None = None) -> Response:
    """An error in OpenAI's shape, as /v1 gives every other one."""
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status, headers=headers)
