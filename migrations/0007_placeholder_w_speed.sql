-- Placeholder on branch w-speed only, so that its 0009 migrates: w-storage owns 0007
-- (0007_partitioned_history.sql). Drop this file when merging w-storage's.
SELECT 1;
