"""The public origin of a request: the scheme and host the person's browser used.

Behind the TLS-terminating proxy every deployment puts in front, the service itself only ever
sees plain http. So the origin comes from configuration (``PUBLIC_BASE_URL``), or from the
``X-Forwarded-Proto`` / ``X-Forwarded-Host`` headers of a peer in ``TRUSTED_PROXIES``; the same
headers from anyone else are ignored (a client could claim https to make us drop ``Secure``, or
claim another host to slip a cross-origin form past the Origin check).
"""

from urllib.parse import urlsplit

from servicekit.web.client_ip import Network, is_trusted

_SCHEMES = ("http", "https")


def origin_of(url: str) -> str:
    """``https://Example.com:443/path`` -> ``https://example.com``; what browsers send as Origin."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _SCHEMES or not host:
        raise ValueError(f"not an http(s) URL: {url!r}")
    if ":" in host:
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    port = parts.port
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def public_origin(
    configured: str,
    *,
    peer: str | None,
    forwarded_proto: str | None,
    forwarded_host: str | None,
    trusted: tuple[Network, ...],
) -> str:
    """The configured origin, unless a trusted proxy says which one the browser used."""
    if not forwarded_proto or not is_trusted(peer, trusted):
        return configured
    # A proxy chain appends; the first value is what the outermost proxy saw.
    proto = forwarded_proto.split(",")[0].strip().lower()
    if proto not in _SCHEMES:
        return configured
    host = (forwarded_host or "").split(",")[0].strip() or urlsplit(configured).netloc
    try:
        return origin_of(f"{proto}://{host}")
    except ValueError:
        return configured


def same_origin(origin: str, *, origin_header: str | None, fetch_site: str | None) -> bool:
    """Whether a state-changing request comes from a page of ``origin`` (or from no browser).

    ``Sec-Fetch-Site`` first: browsers send it to secure contexts (https, localhost) and it
    survives our ``Referrer-Policy: no-referrer``, under which Chromium sends ``Origin: null``
    even for a same-origin form. Without it, ``Origin`` must be ours. A request with neither
    comes from a script or a service, which carries no person's cookies to abuse.
    """
    if fetch_site is not None:
        return fetch_site.strip().lower() in ("same-origin", "none")
    if origin_header is not None:
        try:
            return origin_of(origin_header) == origin
        except ValueError:
            return False  # "null" with nothing else to go by, or garbage
    return True
