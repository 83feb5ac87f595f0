-- Placeholder on branch w-speed only, so that its 0009 migrates: w-storage owns 0008
-- (0008_reader_role.sql). Drop this file when merging w-storage's.
SELECT 1;
