-- Reserved for the config-change branch's 0006 (runs.trigger 'config', job_health's new
-- column), which is being written in parallel: the migrator refuses gaps in the numbering, and
-- this branch's migrations start at 0007. Delete this file when that branch's 0006 merges.
SELECT 1;
