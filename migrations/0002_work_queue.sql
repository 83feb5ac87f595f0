-- Scheduling and the shared work queue: several forecastd daemons on several hosts share the
-- work through these tables, with PostgreSQL as the only coordinator.

-- When each job's next training and prediction are due. Kept in the database so a restart
-- neither repeats nor skips work, and so every daemon agrees.
CREATE TABLE job_schedule (
    job             text PRIMARY KEY,
    next_train_at   timestamptz NOT NULL DEFAULT now(),
    next_predict_at timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Units of work: one series, or a job's global model ('' as unit). A worker claims an
-- available unit (or one whose lease expired) with FOR UPDATE SKIP LOCKED, renews its lease
-- while it works, and marks it completed in the same transaction that writes its results.
CREATE TABLE work_queue (
    work_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job              text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('train', 'predict')),
    unit             text NOT NULL,
    run_id           bigint NOT NULL REFERENCES runs (run_id),
    state            text NOT NULL DEFAULT 'available' CHECK (state IN ('available', 'running', 'completed', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL DEFAULT 3,
    available_at     timestamptz NOT NULL DEFAULT now(),
    lease_owner      text,
    lease_expires_at timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    CHECK ((state = 'running') = (lease_owner IS NOT NULL))
);
-- What a claim looks for.
CREATE INDEX work_queue_claimable ON work_queue (available_at) WHERE state = 'available';
CREATE INDEX work_queue_leased ON work_queue (lease_expires_at) WHERE state = 'running';
CREATE INDEX work_queue_by_run ON work_queue (run_id, state);
-- A unit is queued at most once at a time.
CREATE UNIQUE INDEX work_queue_one_pending ON work_queue (job, kind, unit) WHERE state IN ('available', 'running');
