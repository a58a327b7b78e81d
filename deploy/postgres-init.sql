-- Run once by the postgres image on an empty data directory (mounted into /docker-entrypoint-initdb.d
-- by compose.yaml), as POSTGRES_USER, which therefore owns both databases. One server, one database
-- per service, as in production; the schemas are created by deploy/migrate.ts, not here.
-- Changing this file does nothing to an existing volume: `docker compose down -v` starts afresh.
CREATE DATABASE line_provider;
CREATE DATABASE score_maker;
