#!/bin/sh
# docker/replication.sh: run once by the postgis image at initdb: let the replica stream.
set -e
echo "host replication onemap all scram-sha-256" >>"$PGDATA/pg_hba.conf"
