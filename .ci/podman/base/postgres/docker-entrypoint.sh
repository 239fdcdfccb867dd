#!/usr/bin/env bash
# CI-only stand-in for the official postgres image's entrypoint (see ../../README.md).
#   first start (empty $PGDATA): initdb with POSTGRES_USER / POSTGRES_PASSWORD, create POSTGRES_DB,
#   run /docker-entrypoint-initdb.d/*.sql|*.sql.gz|*.sh against it on a socket-only server;
#   then: exec postgres -c listen_addresses='*' <extra args given as the command>.
# A command starting with "-" (e.g. `-c max_connections=200`) is passed to postgres, as upstream.
set -Eeuo pipefail
shopt -s nullglob

if [[ ${1:-} == -* ]]; then
    set -- postgres "$@"
fi
if [[ ${1:-} != postgres ]]; then
    exec "$@"
fi

if [[ $(id -u) == 0 ]]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi
shift # "postgres"

if [[ ! -s $PGDATA/PG_VERSION ]]; then
    if [[ -z ${POSTGRES_PASSWORD:-} ]]; then
        echo "error: database is uninitialized and POSTGRES_PASSWORD is not set" >&2
        exit 1
    fi
    POSTGRES_USER=${POSTGRES_USER:-postgres}
    POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}

    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words, as upstream
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        --auth-local=trust --auth-host=scram-sha-256 -D "$PGDATA" ${POSTGRES_INITDB_ARGS:-}
    printf '\nhost all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"

    # init scripts run against a server that listens on the unix socket only, so a TCP
    # healthcheck (pg_isready -h 127.0.0.1) stays red until initialisation has finished
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
    psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
    if [[ $POSTGRES_DB != postgres ]]; then
        "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case $f in
            *.sh)
                echo "$0: running $f"
                # shellcheck disable=SC1090
                . "$f"
                ;;
            *.sql)
                echo "$0: running $f"
                "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f"
                ;;
            *.sql.gz)
                echo "$0: running $f"
                gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB"
                ;;
            *) echo "$0: ignoring $f" ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo "$0: PostgreSQL init process complete; ready for start up."
fi

exec postgres -c listen_addresses='*' "$@"
