-- `since` and the newest-first order follow the time a finding was first stored or its verdicts or
-- image last changed (`changed_at`), no longer its latest delivery (`last_seen`). A redelivery that
-- changes neither, the common case (Pub/Sub retries, GuardDuty repeating an open finding), then
-- updates no indexed column, so PostgreSQL can update the row in place (a HOT update: no index
-- entry written); the fill factor leaves room on each page for that.
ALTER TABLE findings ADD COLUMN changed_at BIGINT NOT NULL DEFAULT 0;
UPDATE findings SET changed_at = last_seen;
ALTER TABLE findings ALTER COLUMN changed_at DROP DEFAULT;
ALTER TABLE findings SET (fillfactor = 70);
DROP INDEX findings_by_last_seen;
DROP INDEX findings_by_image;
CREATE INDEX findings_by_changed_at ON findings (changed_at);
CREATE INDEX findings_by_image_changed_at ON findings (image, changed_at);
