-- Training throughput per epoch (issue 17): the sequence steps the epoch's updates read forward
-- and backward per second, warm-up steps included and padding not (as `forecastd bench rnn`
-- counts them); NULL for epochs recorded before it was kept.
ALTER TABLE training_history ADD COLUMN IF NOT EXISTS steps_per_second double precision;
