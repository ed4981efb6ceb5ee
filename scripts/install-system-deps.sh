#!/usr/bin/env bash
# Install the Debian packages the test suite uses (Postgres 15 with pgTAP, plpgsql_check, pg_cron;
# PgBouncer, the stand-in for Supabase's transaction pooler; Chromium, its driver and an emoji
# font for the dashboard's browser tests; python3-venv where the system python lacks it).
# Does nothing when they are all present, when not root, or when not on Debian/apt:
# the test fixtures then fall back to Docker or the embedded Postgres.
set -euo pipefail

packages=(postgresql-15 postgresql-15-pgtap pgtap postgresql-15-plpgsql-check postgresql-15-cron pgbouncer
          chromium chromium-driver fonts-noto-color-emoji)

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
    exit 0
fi

missing=()
for pkg in "${packages[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done
# Debian's own python3 needs python3-venv for `make`'s `python3 -m venv .venv`.
if command -v python3 >/dev/null && ! python3 -c 'import ensurepip' 2>/dev/null; then
    missing+=(python3-venv)
fi
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A release without these packages should not stop `make test`: the fixtures fall back.
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
    echo "warning: could not install ${missing[*]}; tests fall back to other Postgres servers" >&2
fi
