//! Stored verdicts and bake lists: SQLite by default, PostgreSQL for replicas sharing a store.
