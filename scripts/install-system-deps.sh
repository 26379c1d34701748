#!/usr/bin/env bash
# Installs what devinfra's local provider runs on (Debian 12, as root, non-interactive):
#   - PostgreSQL server binaries (/usr/lib/postgresql/<major>/bin)
#   - a JDK 17 (headless) when `java` is missing   -> runs Kafka
#   - Maven when `mvn` is missing                   -> fetches Kafka's jars
#   - Chromium when /usr/bin/chromium is missing    -> the browser tests (tests/browser)
#   - nginx when /usr/sbin/nginx is missing         -> the TLS-terminating proxy the https
#                                                      tests put in front (devinfra.tls_proxy)
#   - uv (through pip) when missing
#   - the en_US.UTF-8 locale (Debian's `locales`, generated with localedef) when missing:
#     identity's lookup is tested on a PostgreSQL cluster initialised with it
# Idempotent: installs only what is missing and runs `apt-get update` at most once.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-system-deps: run as root (or install sudo)" >&2
        exit 1
    fi
fi

missing=()

# The server package, not just the client: devinfra needs initdb/postgres/pg_ctl.
if ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
    missing+=(postgresql)
fi
if ! command -v java >/dev/null 2>&1; then
    missing+=(openjdk-17-jdk-headless)
fi
if ! command -v mvn >/dev/null 2>&1; then
    missing+=(maven)
fi
# The browser tests drive Debian's Chromium (never a browser downloaded by Playwright).
[ -x /usr/bin/chromium ] || missing+=(chromium)
# The https tests run Debian's nginx as the TLS-terminating proxy (the ingress-nginx role); run
# by the tests as an ordinary process, never as the system service (policy-rc.d below).
[ -x /usr/sbin/nginx ] || missing+=(nginx)
# The AsyncAPI document is validated with @asyncapi/parser from the npm registry.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# Tests start a PostgreSQL cluster with the official image's default locale, en_US.UTF-8.
need_locale=0
if ! locale -a 2>/dev/null | grep -qix 'en_US\.utf-\?8'; then
    need_locale=1
    [ -d /usr/share/i18n/locales ] && command -v localedef >/dev/null 2>&1 || missing+=(locales)
fi
need_uv=0
if ! command -v uv >/dev/null 2>&1; then
    need_uv=1
    if ! command -v python3 >/dev/null 2>&1; then
        missing+=(python3 python3-pip)
    elif ! python3 -m pip --version >/dev/null 2>&1; then
        missing+=(python3-pip)
    fi
fi

if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-system-deps: installing ${missing[*]}"
    $SUDO apt-get update -q
    # --no-install-recommends keeps it small; policy-rc.d stops Debian from starting the
    # packaged PostgreSQL cluster as a service (devinfra runs its own server).
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod +x /usr/sbin/policy-rc.d
        trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "install-system-deps: postgresql, java, mvn, chromium, nginx and node already present"
fi

if [ "$need_locale" -eq 1 ]; then
    echo "install-system-deps: generating the en_US.UTF-8 locale"
    $SUDO localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8
fi

if [ "$need_uv" -eq 1 ]; then
    echo "install-system-deps: installing uv with pip"
    # Debian marks its Python as externally managed (PEP 668); uv is a standalone tool.
    python3 -m pip install --quiet --break-system-packages uv 2>/dev/null \
        || python3 -m pip install --quiet uv
fi

echo "install-system-deps: done"
echo "  postgres: $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
echo "  java:     $(java -version 2>&1 | head -n1)"
echo "  mvn:      $(mvn -v 2>/dev/null | head -n1)"
echo "  nginx:    $(/usr/sbin/nginx -v 2>&1)"
echo "  uv:       $(uv --version 2>/dev/null || echo 'not on PATH (check ~/.local/bin)')"
