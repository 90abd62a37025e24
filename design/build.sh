#!/bin/sh
# Rebuild the shared design's stylesheet from the pinned GOV.UK Frontend and Sass (package.json, package-lock.json):
#   cd design && ./build.sh
# Writes roles/app_common/files/design/static/design/govcloud.min.css (committed: deploys need no Node on the box).
set -eu
cd "$(dirname "$0")"
[ -d node_modules/govuk-frontend ] || npm ci --no-audit --no-fund
out=../roles/app_common/files/design/static/design/govcloud.min.css
mkdir -p "$(dirname "$out")"
npx --no-install sass --no-source-map --style=compressed --load-path=node_modules --quiet-deps \
  src/govcloud.scss "$out"
printf '%s: %s bytes (%s gzipped)\n' "$out" "$(wc -c < "$out")" "$(gzip -9c "$out" | wc -c)"
