"""Who may reach the web chat: loopback by default, a public address only with a password (or --insecure),
and how long a client address that keeps sending wrong passwords must wait."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time


class AccessError(ValueError):
    pass


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """'user:password' -> (user, password); the password may itself contain ':'."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise AccessError("--auth (or ASSISTANT_AUTH) must look like user:password, both non-empty")
    return user, password


def is_loopback(host: str) -> bool:
    """True when every address the host name resolves to is on this machine only (127.0.0.0/8, ::1)."""
    try:
        return _loopback_address(host)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        raise AccessError(f"cannot resolve host {host!r}; give an IP address such as 127.0.0.1") from None
    return all(_loopback_address(info[4][0].split("%")[0]) for info in infos)


def _loopback_address(text: str) -> bool:
    address = ipaddress.ip_address(text)
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is 127.0.0.1 reached over IPv6
    return (mapped or address).is_loopback


def check_exposure(host: str, auth: tuple[str, str] | None, insecure: bool) -> None:
    """Refuse to serve the documents to a network without a password, unless the user says so."""
    if not is_loopback(host) and auth is None and not insecure:
        raise AccessError(f"refusing to serve on {host} without a password: anyone who can reach it could read "
                          "your documents; pass --auth user:password (or set ASSISTANT_AUTH), or --insecure")


# The longest wait a client address is made to serve, however many wrong passwords it sent (unless
# login_lockout_s itself is longer): long enough to make guessing hopeless, short enough that a user who
# mistyped a few times is not shut out for the day.
MAX_LOCKOUT_S = 3600.0
# Misses are forgotten this long after an address's last miss or wait: a typo last week does not count.
FORGET_AFTER_S = 24 * 3600.0
# Addresses remembered at most; beyond it the longest-quiet is forgotten first, so a flood of addresses
# cannot grow memory without bound.
MAX_TRACKED = 100_000


class LoginThrottle:
    """Wrong passwords per client address: `attempts` are allowed, then the address waits `lockout_s`,
    twice as long after each further miss (at most MAX_LOCKOUT_S), until a right password clears it.

    Every attempt counts as a miss when it starts and is cleared by `succeeded`: guesses sent in parallel
    cannot all slip past the count before the first one fails. Thread-safe; `clock` is injectable for tests.
    """

    def __init__(self, attempts: int, lockout_s: float, clock=time.monotonic):
        self.attempts, self.lockout_s, self.clock = attempts, lockout_s, clock
        self._cap = max(lockout_s, MAX_LOCKOUT_S)
        self._lock = threading.Lock()
        self._misses: dict[str, tuple[int, float]] = {}  # address -> (misses, locked until or last miss)

    def attempt(self, address: str) -> float:
        """Before a password is checked: the seconds the address must still wait (refuse it; nothing is
        counted), or 0 (check it; it counts as a miss until `succeeded`)."""
        with self._lock:
            now = self.clock()
            misses, until = self._misses.pop(address, (0, now))
            if now < until:
                self._misses[address] = (misses, until)
                return until - now
            if now - until > FORGET_AFTER_S:
                misses = 0
            misses += 1
            if misses >= self.attempts:
                until = now + min(self._cap, self.lockout_s * 2.0 ** min(misses - self.attempts, 64))
            self._misses[address] = (misses, max(until, now))  # re-inserted last: the dict is oldest first
            while len(self._misses) > MAX_TRACKED:
                del self._misses[next(iter(self._misses))]
            return 0.0

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._misses.pop(address, None)

    def misses(self, address: str) -> int:
        """Wrong passwords in a row from this address (for the log)."""
        with self._lock:
            return self._misses.get(address, (0, 0.0))[0]

    def wait(self, address: str) -> float:
        """Seconds the address must still wait before its next attempt is checked."""
        with self._lock:
            return max(0.0, self._misses.get(address, (0, 0.0))[1] - self.clock())
