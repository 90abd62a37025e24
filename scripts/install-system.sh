#!/usr/bin/env bash
# Installs the Debian packages the local box needs. Idempotent: installs only what is missing.
set -euo pipefail
PKGS=(
  postgresql-15 postgresql-client-15 pgbackrest restic nginx-light libnginx-mod-stream
  lemonldap-ng-fastcgi-server liblemonldap-ng-portal-perl liblemonldap-ng-manager-perl liblemonldap-ng-common-perl
  libdbd-pg-perl libcrypt-openssl-bignum-perl libemail-sender-perl libstring-random-perl libmime-tools-perl
  libgd-securityimage-perl libimage-magick-perl libio-string-perl libconvert-base32-perl libipc-run-perl
  libunicode-string-perl libio-socket-timeout-perl libcookie-baker-xs-perl libhttp-parser-xs-perl
  libapache-session-browseable-perl libnet-ldap-perl libauthen-webauthn-perl
  ca-certificates openssl curl
  openssh-server openssh-client iproute2 util-linux
  etcd-server python3-venv
  libldap2-dev libsasl2-dev redis-server fonts-lato poppler-utils tesseract-ocr tesseract-ocr-eng
  # the browser tests (tests/integration/_browser.py): Debian's Chromium, driven by Playwright (never downloading
  # a browser), its chromedriver for WebDriver clients, fonts for Urdu's Nastaliq (and npm: below)
  chromium chromium-driver fonts-noto-core
  # the box's mail service (docs/mail.md): our own Postfix instance, SASL logins in a sasldb
  postfix sasl2-bin libsasl2-modules libsasl2-modules-db
  # issue 16: certificates rendered to PDF by WeasyPrint (Pango), an agency key in SoftHSM through PKCS#11 (tests)
  libpango-1.0-0 libpangoft2-1.0-0 softhsm2
)
missing=()
# A Debian python3 needs python3-venv for `python3 -m venv`.
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
# npm fetches axe-core for the browser tests (the Makefile); any npm will do (Node's own packages provide one).
command -v npm >/dev/null || missing+=(npm)
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present" >&2
else
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing Debian packages (${missing[*]}); run as root or install them with apt-get" >&2
    exit 1
  fi
  echo "system packages: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d keeps packages from starting their own services: the box supervises its own servers.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
  fi
  # Postfix: the box runs its own instance (<home>/mail); Debian's is left unconfigured (no /etc/postfix/main.cf)
  # and, through policy-rc.d above, never started.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "system packages: done" >&2
fi

# Patroni (a database on several hosts of the hosts target) in a virtualenv of Debian's own Python: it runs as
# user postgres, who may not reach govcloud's own virtualenv (whose Python may be root's only). From PyPI, at a
# pinned version: Debian's 3.0.2 can overwrite the leader key a partitioned leader held when it returns (etcd3).
PATRONI_VENV=/opt/govcloud/patroni
PATRONI_VERSION=4.1.5
if ! "$PATRONI_VENV/bin/patroni" --version 2>/dev/null | grep -qx "patroni $PATRONI_VERSION"; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: Patroni $PATRONI_VERSION is not in $PATRONI_VENV; run as root" >&2
    exit 1
  fi
  echo "patroni: installing $PATRONI_VERSION into $PATRONI_VENV" >&2
  mkdir -p "$(dirname "$PATRONI_VENV")" && chmod 755 "$(dirname "$PATRONI_VENV")"
  (umask 022 && /usr/bin/python3 -m venv --clear "$PATRONI_VENV" \
    && "$PATRONI_VENV/bin/pip" install -q --disable-pip-version-check --no-input \
       "patroni[etcd3]==$PATRONI_VERSION" "psycopg[binary]>=3.2,<3.4")
  echo "patroni: done" >&2
fi
