-- One row per finding (source, id): a redelivery updates it. Times are unix milliseconds.
-- IF NOT EXISTS: SQLite takes no migration lock, so a second process starting at the same moment
-- may run this too before it loses the race to record the migration (the store then retries).
CREATE TABLE IF NOT EXISTS findings (
    source       TEXT    NOT NULL,  -- finding::Source code: scc, guardduty, falco, flags
    id           TEXT    NOT NULL,  -- the detector's finding id
    image        TEXT,              -- the image as the finding names it
    repository   TEXT,              -- registry/repository, the key of the bake list
    verdicts     TEXT    NOT NULL,  -- JSON array of verdict codes, one per binary
    needs_action INTEGER NOT NULL,  -- 0 or 1
    first_seen   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    deliveries   INTEGER NOT NULL,
    report       TEXT    NOT NULL,  -- the JSON line `triage --format jsonl` prints, latest delivery
    PRIMARY KEY (source, id)
);
CREATE INDEX IF NOT EXISTS findings_by_last_seen ON findings (last_seen);
CREATE INDEX IF NOT EXISTS findings_by_image ON findings (image, last_seen);

-- The bake list of each repository: binaries judged legitimate.
CREATE TABLE IF NOT EXISTS bake_entries (
    repository TEXT    NOT NULL,
    path       TEXT    NOT NULL,
    sha256     TEXT    NOT NULL,  -- 64 lowercase hex digits
    reason     TEXT,              -- from the first finding that listed it
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (repository, path, sha256)
);
