-- The shared data set elecdemand_vic_2014.csv (Victoria's half-hourly demand, the work-day flag
-- and Melbourne's temperature), as the benchmarks load it: the one definition of the table, read
-- by benchmarks/accuracy/common.py and benchmarks/warmup/compare.sh.
CREATE TABLE elecdemand (ts timestamptz, demand_gw double precision, workday integer, temperature_c double precision);
