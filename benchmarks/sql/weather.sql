-- The shared data set weather_nyc_2013.csv (hourly readings of three NYC stations), as the
-- benchmarks load it: the one definition of the table, read by benchmarks/accuracy/common.py,
-- benchmarks/golden/run.sh and benchmarks/warmup/compare.sh (each then copies the CSV in).
CREATE TABLE weather (station text, ts timestamptz, temp double precision, dewp double precision,
    humid double precision, wind_speed double precision, pressure double precision,
    precip double precision, visib double precision);
