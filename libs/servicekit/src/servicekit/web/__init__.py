"""HTTP conventions every service shares: error bodies, limits, headers, cookies, forms, health.

Public API:
- errors and limits: ``ApiError``, ``install_error_handlers`` (``http_errors``), 415 for a body
  in another media type (``media_type``)
- OpenAPI documents, one per port, with every status: ``ApiDocument``, ``serve_api_documents``,
  ``error_responses``, ``ErrorBody`` (``openapi``)
- behind a proxy: ``request_client_ip`` (``client_ip``), ``public_origin`` (``public_origin``)
- headers and cookies: ``SecurityHeaders`` (``security_headers``), ``cookies``, ``csrf``
- server-rendered pages: ``page_templates``, ``mount_static``, ``render_page``,
  ``install_branding`` (``pages``); the branding settings (``branding``); templates with
  ``TEMPLATE_OVERRIDE_DIR`` overrides for pages and emails (``templating``)
- ports of their own: ``InternalPortGate``, ``INTERNAL_TOKEN`` and ``require_bearer``
  (``internal_*``)
- probes: ``health_router`` (``health``)
"""

from servicekit.web import cookies, csrf
from servicekit.web.client_ip import request_client_ip
from servicekit.web.health import health_router
from servicekit.web.http_errors import ApiError, install_error_handlers
from servicekit.web.internal_auth import INTERNAL_TOKEN, require_bearer
from servicekit.web.internal_port import InternalPortGate
from servicekit.web.media_type import require_declared_media_type
from servicekit.web.openapi import ApiDocument, ErrorBody, error_responses, serve_api_documents
from servicekit.web.pages import mount_static, page_templates, render_page
from servicekit.web.public_origin import public_origin
from servicekit.web.security_headers import SecurityHeaders

__all__ = [
    "INTERNAL_TOKEN",
    "ApiDocument",
    "ApiError",
    "ErrorBody",
    "InternalPortGate",
    "SecurityHeaders",
    "cookies",
    "csrf",
    "error_responses",
    "health_router",
    "install_error_handlers",
    "mount_static",
    "page_templates",
    "public_origin",
    "render_page",
    "request_client_ip",
    "require_bearer",
    "require_declared_media_type",
    "serve_api_documents",
]
