"""The client's IP address, believing X-Forwarded-For only from configured trusted proxies.

Walking the header from the right and skipping trusted hops gives the first address a trusted
proxy saw; anything further left was written by the client and could be anything.
"""

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Annotated

from fastapi import Depends, Request

from servicekit.client_network import unmapped

Network = IPv4Network | IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` -> networks; a bad entry is a configuration error."""
    return tuple(ip_network(item.strip(), strict=False) for item in text.split(",") if item.strip())


def _parse(value: str) -> IPv4Address | IPv6Address | None:
    try:
        # A socket bound to "::" (dual stack) reports an IPv4 peer as ::ffff:a.b.c.d: the same
        # host, which an IPv4 network in TRUSTED_PROXIES must match.
        return unmapped(ip_address(value.strip()))
    except ValueError:
        return None


def is_trusted(peer: str | None, trusted: tuple[Network, ...]) -> bool:
    """Whether ``peer`` (a socket's address) is one of the trusted proxies."""
    address = _parse(peer or "")
    return address is not None and any(address in net for net in trusted)


def client_ip(peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    address = _parse(peer or "")
    if address is None:
        return "unknown"
    if not any(address in net for net in trusted) or not forwarded_for:
        return str(address)
    for hop in reversed(forwarded_for.split(",")):
        candidate = _parse(hop)
        if candidate is None:
            return str(address)  # a malformed hop: trust nothing beyond the proxy itself
        if not any(candidate in net for net in trusted):
            return str(candidate)
        address = candidate
    return str(address)


async def request_client_ip(request: Request) -> str:
    """FastAPI dependency: the caller's IP; X-Forwarded-For counts only from the proxies in the
    app's `settings.trusted_proxy_networks`."""
    peer = request.client.host if request.client else None
    return client_ip(
        peer,
        request.headers.get("x-forwarded-for"),
        request.app.state.settings.trusted_proxy_networks,
    )


ClientIp = Annotated[str, Depends(request_client_ip)]
