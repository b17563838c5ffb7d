#!/usr/bin/env bash
# The project-local PostgreSQL + PostGIS cluster under .data/pg.
#   scripts/db.sh start   initialise if needed, start, create role/database/extensions (idempotent)
#   scripts/db.sh stop    stop the cluster
#   scripts/db.sh status
# With DATABASE_URL set, nothing is started: `start` only checks that server and its extensions.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${GEOPLATFORM_PG_PORT:-55432}
DATA=$ROOT/.data/pg
RUN=$ROOT/.data/run          # our own socket directory; Debian's /var/run/postgresql is not ours
DB=geoplatform
ROLE=geoplatform
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

# initdb/pg_ctl refuse to run as root: then the server runs as the unprivileged `postgres` user.
if [ "$(id -u)" -eq 0 ]; then
  SERVER_USER=postgres
  as_server() { runuser -u postgres -- "$@"; }
else
  SERVER_USER=$(id -un)
  as_server() { "$@"; }
fi

psql_super() { PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN" -p "$PORT" -U postgres "$@"; }

ensure_traversable() {
  # Every parent of the data directory must be searchable by the server's user
  # (a CI clone under `mktemp -d` is 0700 root).
  local d=$1
  while [ "$d" != "/" ]; do
    if ! as_server test -x "$d"; then
      chmod o+x "$d"
      echo "db: granted o+x on $d so $SERVER_USER can reach the cluster" >&2
    fi
    d=$(dirname "$d")
  done
}

ensure_sql() {
  # Extensions go into template1 first so every new database (pytest-django's test database too) has them.
  local db
  for db in template1 postgres; do
    psql_super -d "$db" -c "CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS postgis_raster;"
  done
  psql_super -d postgres <<SQL
SELECT format('CREATE ROLE %I LOGIN CREATEDB', '$ROLE') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE')\gexec
SELECT format('CREATE DATABASE %I OWNER %I TEMPLATE template1', '$DB', '$ROLE') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB')\gexec
SQL
  psql_super -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS postgis_raster;"
  # A password for TCP clients (QGIS, ogr2ogr, benchmarks) on 127.0.0.1; the app itself uses the socket.
  local pwfile=$ROOT/.data/db-password
  if [ ! -s "$pwfile" ]; then
    (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$pwfile")
    psql_super -d postgres -c "ALTER ROLE $ROLE PASSWORD '$(cat "$pwfile")'"
  fi
}

check_external() {
  # libpq knows postgresql:// only; Django's URL may say postgis://.
  local url=${DATABASE_URL/#postgis:/postgresql:}
  local psql=${PGBIN:+$PGBIN/}psql
  if ! version=$(PGOPTIONS="-c client_min_messages=warning" "$psql" -X -q -t -A -v ON_ERROR_STOP=1 "$url" \
      -c "CREATE EXTENSION IF NOT EXISTS postgis" -c "SELECT postgis_lib_version()" 2>&1); then
    echo "db: DATABASE_URL is set, but its server is not usable: $version" >&2
    echo "db: it needs PostGIS, and the postgis extension created by a superuser (also in template1 for tests)" >&2
    exit 1
  fi
  echo "db: DATABASE_URL is set; using that server (PostGIS $version), starting nothing"
}

start() {
  if [ -n "${DATABASE_URL:-}" ]; then
    check_external
    return 0
  fi
  [ -x "$PGBIN/initdb" ] || { echo "db: PostgreSQL server binaries not found (run scripts/system-deps.sh)" >&2; exit 1; }
  mkdir -p "$ROOT/.data"
  ensure_traversable "$ROOT/.data"
  if [ ! -s "$DATA/PG_VERSION" ]; then
    mkdir -p "$DATA" "$RUN"
    chown "$SERVER_USER" "$DATA" "$RUN"
    chmod 700 "$DATA" "$RUN"
    as_server "$PGBIN/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=scram-sha-256 >"$ROOT/.data/initdb.log"
  fi
  mkdir -p "$RUN"; chown "$SERVER_USER" "$RUN"; chmod 700 "$RUN"
  if ! as_server "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    if ! as_server "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
        -o "-p $PORT -k $RUN -c listen_addresses=127.0.0.1" start >/dev/null; then
      echo "db: the server did not start; last lines of $DATA/server.log:" >&2
      tail -n 20 "$DATA/server.log" >&2
      exit 1
    fi
  fi
  ensure_sql
  echo "db: PostgreSQL on port $PORT (socket $RUN), database $DB"
}

stop() {
  [ -s "$DATA/PG_VERSION" ] || { echo "db: no local cluster"; return 0; }
  if as_server "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    as_server "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    echo "db: stopped"
  else
    echo "db: not running"
  fi
}

status() { as_server "$PGBIN/pg_ctl" -D "$DATA" status; }

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
