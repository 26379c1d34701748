"""Which client an IP address stands for, as every per-client limit counts it.

An IPv6 subscriber is routinely handed a whole /64 and may pick any address in it, so counting
each address would let one host walk past every per-IP limit: an IPv6 address counts as its
/64. An IPv4 client counts as its address however it is written: IPv4-mapped (as a dual-stack
socket reports it) or NAT64-translated (RFC 6052's well-known prefix, whose /64 would otherwise
be every IPv4 client of the gateway at once). Pure: the services' domains use it.
"""

from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address

IPV6_CLIENT_PREFIX = 64
NAT64_PREFIX = IPv6Network("64:ff9b::/96")


def unmapped(address: IPv4Address | IPv6Address) -> IPv4Address | IPv6Address:
    """An IPv4 address written IPv4-mapped (``::ffff:a.b.c.d``, how a socket served on ``::``
    reports an IPv4 peer) as the IPv4 address it is; any other address as it is."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_network(client_ip: str) -> str:
    """``2001:db8:1:2::7`` -> ``2001:db8:1:2::/64``; ``::ffff:198.51.100.7`` and
    ``64:ff9b::198.51.100.7`` -> ``198.51.100.7``; anything not an address ("unknown") as is."""
    try:
        address = unmapped(ip_address(client_ip))
    except ValueError:
        return client_ip
    if isinstance(address, IPv6Address):
        if address in NAT64_PREFIX:
            return str(IPv4Address(int(address) & 0xFFFFFFFF))
        return str(IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address)
