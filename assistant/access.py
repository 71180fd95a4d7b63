"""Who may reach the web chat: loopback by default, a public address only with a password (or --insecure)."""

from __future__ import annotations

import ipaddress
import socket


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
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        raise AccessError(f"cannot resolve host {host!r}; give an IP address such as 127.0.0.1") from None
    return all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def check_exposure(host: str, auth: tuple[str, str] | None, insecure: bool) -> None:
    """Refuse to serve the documents to a network without a password, unless the user says so."""
    if not is_loopback(host) and auth is None and not insecure:
        raise AccessError(f"refusing to serve on {host} without a password: anyone who can reach it could read "
                          "your documents; pass --auth user:password (or set ASSISTANT_AUTH), or --insecure")
