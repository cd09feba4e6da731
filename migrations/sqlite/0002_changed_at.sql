-- `since` and the newest-first order follow the time a finding was first stored or its verdicts or
-- image last changed (`changed_at`), no longer its latest delivery (`last_seen`). A redelivery that
-- changes neither, the common case (Pub/Sub retries, GuardDuty repeating an open finding), then
-- rewrites its row alone instead of also moving two index entries from a random page to the end.
ALTER TABLE findings ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;
UPDATE findings SET changed_at = last_seen;
DROP INDEX IF EXISTS findings_by_last_seen;
DROP INDEX IF EXISTS findings_by_image;
CREATE INDEX IF NOT EXISTS findings_by_changed_at ON findings (changed_at);
CREATE INDEX IF NOT EXISTS findings_by_image_changed_at ON findings (image, changed_at);
