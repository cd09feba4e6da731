-- One row per finding (source, id): a redelivery updates it. Times are unix milliseconds.
-- Replicas starting at once are serialised by the migrator's advisory lock.
CREATE TABLE findings (
    source       TEXT    NOT NULL,  -- finding::Source code: scc, guardduty, falco, flags
    id           TEXT    NOT NULL,  -- the detector's finding id
    image        TEXT,              -- the image as the finding names it
    repository   TEXT,              -- registry/repository, the key of the bake list
    verdicts     JSONB   NOT NULL,  -- array of verdict codes, one per binary
    needs_action BOOLEAN NOT NULL,
    first_seen   BIGINT  NOT NULL,
    last_seen    BIGINT  NOT NULL,
    deliveries   BIGINT  NOT NULL,
    report       TEXT    NOT NULL,  -- the JSON line `triage --format jsonl` prints, latest delivery
    PRIMARY KEY (source, id)
);
CREATE INDEX findings_by_last_seen ON findings (last_seen);
CREATE INDEX findings_by_image ON findings (image, last_seen);

-- The bake list of each repository: binaries judged legitimate.
CREATE TABLE bake_entries (
    repository TEXT   NOT NULL,
    path       TEXT   NOT NULL,
    sha256     TEXT   NOT NULL,  -- 64 lowercase hex digits
    reason     TEXT,             -- from the first finding that listed it
    first_seen BIGINT NOT NULL,
    PRIMARY KEY (repository, path, sha256)
);
