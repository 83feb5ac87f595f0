-- forecastd_reader: a role without login for dashboards, which users GRANT to their dashboard's
-- login (README, "Dashboards"). It may read the forecast, metric and health tables and views,
-- and nothing else: not the model weights (models is granted column by column, without
-- `weights`), not the saved network states, the work queue or the migrations.
--
-- Roles belong to the cluster, not the database: the role is created only when missing, and a
-- second database (or schema) migrated at the same moment, which loses the race to create it,
-- uses the winner's. A migrating user without CREATEROLE gets a warning and no grants; a
-- superuser can create the role and run the GRANTs below by hand.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'forecastd_reader') THEN
        BEGIN
            CREATE ROLE forecastd_reader NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;  -- created meanwhile by another migration
            WHEN insufficient_privilege THEN
                RAISE WARNING 'forecastd_reader was not created: % (a superuser can run CREATE ROLE forecastd_reader NOLOGIN, then forecastd migrate''s grants from migrations/0008_reader_role.sql)', SQLERRM;
        END;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'forecastd_reader') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO forecastd_reader', current_schema());
        GRANT SELECT ON predictions, latest_forecasts, actuals, forecast_accuracy, model_metrics,
                        training_history, backtest_results, model_leaderboard, runs, job_schedule,
                        job_health TO forecastd_reader;
        GRANT SELECT (model_id, job, series, version, cell, hyperparameters, status, reason, trained_at,
                      data_start, data_end, train_seconds, epochs) ON models TO forecastd_reader;
    END IF;
END $$;
