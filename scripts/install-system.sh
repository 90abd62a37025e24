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
  etcd-server patroni python3-etcd python3-idna
  libldap2-dev libsasl2-dev redis-server fonts-lato poppler-utils tesseract-ocr tesseract-ocr-eng
)
missing=()
# A Debian python3 needs python3-venv for `python3 -m venv`.
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present" >&2
  exit 0
fi
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
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: done" >&2
