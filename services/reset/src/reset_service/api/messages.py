"""Messages the reset pages build in code, for the page's language.

``N_`` (servicekit.i18n) marks a message for extraction; the page translates it with the
request's catalog when it shows it.
"""

from gettext import NullTranslations

from servicekit.i18n import N_

from reset_service.service_layer.errors import PasswordRejected

# identity's policy reasons (its 422 ``reason``), as the person reads them.
PASSWORD_REASONS = {
    "too_short": N_("This password can't be used: use at least %(limit)s characters."),
    "too_long": N_("This password can't be used: use at most %(limit)s characters."),
    "control_characters": N_("This password can't be used: control characters are not allowed."),
    "matches_email": N_("This password can't be used: it must not be your email address."),
    "common_password": N_("This password can't be used: it is too common. Choose another."),
}
PASSWORD_REJECTED = N_("This password can't be used. Choose another.")


def password_problem(t: NullTranslations, exc: PasswordRejected) -> str:
    template = PASSWORD_REASONS.get(exc.reason)
    if template is None or ("%(limit)s" in template and exc.limit is None):
        return t.gettext(PASSWORD_REJECTED)
    return t.gettext(template) % {"limit": exc.limit}
