#!/usr/bin/env bash
# Install the Debian packages the platform needs; installs only what is missing,
# so a second run costs one dpkg-query.
set -euo pipefail

PACKAGES=(
  postgresql-15 postgresql-15-postgis-3 postgresql-15-postgis-3-scripts  # the database
  gdal-bin libgdal32 libgeos-c1v5 libproj25    # GeoDjango's C libraries and ogr2ogr
  gettext                                      # compilemessages for zh-Hans / en / ug
  fonts-noto-cjk fonts-noto-core               # CJK and Arabic-script (Uyghur) glyphs for rendering
  mapserver-bin fontconfig                     # mapserv renders raster tiles for MapProxy; fc-match finds the CJK font
  libfcgi-bin                                  # cgi-fcgi: MapProxy reaches the warm mapserv processes
  chromium                                     # browser tests (Playwright drives Debian's Chromium)
  nginx-light libnginx-mod-http-js             # static front of `geoplatform serve`; njs maps TMS rows to cache files
  nodejs npm                                   # vendored JS map libraries
)
# `make bench` also needs the load tools its anchors use (scripts/system-deps.sh --bench).
if [ "${1:-}" = "--bench" ]; then
  PACKAGES+=(wrk spawn-fcgi)                   # bench/tiles.py: wrk against nginx; mapserv as FastCGI
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A machine may carry its own Node.js; npm on PATH is all we need.
if command -v npm >/dev/null 2>&1; then
  tmp=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || echo "warning: apt-get update failed; trying the cached package lists" >&2
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
