"""Cookies named and flagged by the request's public origin (``servicekit.web.security_headers``
sets the scheme from it).

On https every cookie is ``Secure`` and prefixed: ``__Host-`` when its path is ``/`` (the browser
then refuses it unless it is Secure, host-only and for ``/``, so a sibling subdomain cannot plant
one), ``__Secure-`` when the path is narrower (``__Host-`` requires ``/``). Always HttpOnly and
SameSite=Lax: no script of ours reads a cookie.
"""

from starlette.requests import Request
from starlette.responses import Response


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def cookie_name(request: Request, base: str, path: str = "/") -> str:
    if not is_https(request):
        return base
    return f"__Host-{base}" if path == "/" else f"__Secure-{base}"


def read_cookie(request: Request, base: str, path: str = "/") -> str | None:
    return request.cookies.get(cookie_name(request, base, path))


def set_cookie(
    response: Response,
    request: Request,
    base: str,
    value: str,
    *,
    path: str = "/",
    max_age: int | None = None,
) -> None:
    response.set_cookie(
        cookie_name(request, base, path),
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        secure=is_https(request),
        samesite="lax",
    )


def delete_cookie(response: Response, request: Request, base: str, path: str = "/") -> None:
    response.delete_cookie(
        cookie_name(request, base, path),
        path=path,
        secure=is_https(request),
        httponly=True,
        samesite="lax",
    )
