# The scale benchmark's table, shared by benchmarks/scale/run.sh, benchmarks/retention/run.sh and
# benchmarks/warmup/compare.sh:
# hourly series in public.readings, each a daily and a weekly cycle with its own level, scale and
# phases, plus noise (all from hashes of the series number and the hour, so the same on every
# run), indexed as a source table is. The caller defines `sql` (psql on the database).

SCALE_T0="2026-01-01 00:00:00+00"

# hour_at H: the ISO timestamp of hour H of the table.
hour_at() { python3 -c "import datetime as d; print((d.datetime(2026,1,1,tzinfo=d.timezone.utc)+d.timedelta(hours=$1)).strftime('%Y-%m-%dT%H:%M:%SZ'))"; }

# scale_rows FROM TO: the rows of hours [FROM, TO) of every series, in time order (so that ts
# correlates with the heap, as in a table that grows by appends).
scale_rows() {
    sql -c "
        INSERT INTO readings (series, ts, value)
        SELECT p.key, timestamptz '$SCALE_T0' + h * interval '1 hour',
               p.level + p.scale * (sin(2 * pi() * h / 24 + p.phase) + 0.6 * sin(2 * pi() * h / 168 + p.weekly)
                                    + 0.25 * (hashint8(h * 100003 + p.n) % 1000) / 1000.0)
        FROM generate_series($1, $2 - 1) AS h, series_params p
        ORDER BY h, p.n"
}

# scale_table SERIES POINTS: the tables, the first POINTS hours of SERIES series, the indexes.
scale_table() {
    sql -c "
        CREATE TABLE readings (series text NOT NULL, ts timestamptz NOT NULL, value double precision);
        CREATE TABLE series_params AS
        SELECT n, 's' || lpad(n::text, 5, '0') AS key,
               10 + (hashint4(n) % 1000 + 1000) % 1000 / 10.0 AS level,
               1 + (hashint4(n + 7) % 100 + 100) % 100 / 10.0 AS scale,
               (hashint4(n + 13) % 628 + 628) % 628 / 100.0 AS phase,
               (hashint4(n + 17) % 628 + 628) % 628 / 100.0 AS weekly
        FROM generate_series(0, $1 - 1) AS n;"
    scale_rows 0 "$2"
    sql -c "CREATE INDEX readings_ts ON readings (ts)" -c "CREATE INDEX readings_series_ts ON readings (series, ts)" -c "VACUUM ANALYZE readings"
}
