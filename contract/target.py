"""Where a run may send traffic: loopback, unless the user says otherwise out loud."""

from __future__ import annotations

import argparse
import ipaddress
import socket
from urllib.parse import urlsplit

from contract.admin import TOKEN_ENV


class TargetError(ValueError):
    """A target paystorm may not send to; the message is the one line the user sees."""


def check_target(url: str, *, allow_remote: bool, option: str = "--target") -> str:
    """The normalised base URL; raises TargetError for a bad or non-loopback target, naming
    it as `option` (the command-line option or scenario field it came from)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a port that is no number raises here)
    except ValueError:
        raise TargetError(f"{option} {url}: expected http://HOST:PORT") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetError(f"{option} {url}: expected http://HOST:PORT")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise TargetError(f"{option} {url}: expected no path or query, only http://HOST:PORT")
    if not allow_remote and not is_loopback(parts.hostname):
        raise TargetError(
            f"{option} {url}: {parts.hostname} is not a loopback address; paystorm sends load "
            "and faults only to this machine unless you pass --allow-remote"
        )
    return f"{parts.scheme}://{parts.netloc}"


def is_loopback(host: str) -> bool:
    """True when every address `host` resolves to is loopback."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses
    )


def add_target_arguments(parser: argparse.ArgumentParser, remote_help: str) -> None:
    """--target and --allow-remote, as every command that sends load or faults takes them."""
    parser.add_argument(
        "--target",
        default=None,
        help="an already running gateway's base URL instead of the embedded one; "
        f"its admin token from ${TOKEN_ENV}",
    )
    parser.add_argument("--allow-remote", action="store_true", help=remote_help)
