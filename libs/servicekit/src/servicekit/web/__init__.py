"""HTTP conventions every service shares: error bodies, limits, headers, cookies, forms, health.

Public API:
- errors and limits: ``ApiError``, ``install_error_handlers`` (``http_errors``)
- behind a proxy: ``request_client_ip`` (``client_ip``), ``public_origin`` (``public_origin``)
- headers and cookies: ``SecurityHeaders`` (``security_headers``), ``cookies``, ``csrf``
- server-rendered pages: ``page_templates``, ``mount_static``, ``render_page``,
  ``install_branding`` (``pages``); the branding settings (``branding``); templates with
  ``TEMPLATE_OVERRIDE_DIR`` overrides for pages and emails (``templating``)
- ports of their own: ``InternalPortGate`` and ``require_bearer`` (``internal_*``)
- probes: ``health_router`` (``health``)
"""

from servicekit.web import cookies, csrf
from servicekit.web.client_ip import request_client_ip
from servicekit.web.health import health_router
from servicekit.web.http_errors import ApiError, install_error_handlers
from servicekit.web.internal_auth import require_bearer
from servicekit.web.internal_port import InternalPortGate
from servicekit.web.pages import mount_static, page_templates, render_page
from servicekit.web.public_origin import public_origin
from servicekit.web.security_headers import SecurityHeaders

__all__ = [
    "ApiError",
    "InternalPortGate",
    "SecurityHeaders",
    "cookies",
    "csrf",
    "health_router",
    "install_error_handlers",
    "mount_static",
    "page_templates",
    "public_origin",
    "render_page",
    "request_client_ip",
    "require_bearer",
]
