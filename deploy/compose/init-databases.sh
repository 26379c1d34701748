#!/bin/bash
# PostgreSQL's first start (docker-entrypoint-initdb.d): one database per service, each owned by
# its own login role, so no service can read another's tables (docs/security.md).
set -euo pipefail

# DATABASES lets a test run this against a shared server under other names.
for service in ${DATABASES:-identity reset notifier}; do
    password_var="${service^^}_DB_PASSWORD"
    password="${!password_var:?set ${password_var}}"
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v name="$service" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
done
