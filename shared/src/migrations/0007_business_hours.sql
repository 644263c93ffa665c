-- 0007: business hours (issue 6, "After hours"). A team's hours are one JSON document in the
-- shape `shared::hours::BusinessHours` reads and writes (time zone, weekly intervals, holidays);
-- NULL means the team follows the default hours, kept in `settings` under `hours.default`, and
-- with no default either the team is always open. The JSON is validated in Rust before it is
-- stored; the CHECK keeps anything that is not JSON out.
ALTER TABLE teams ADD COLUMN business_hours TEXT
    CHECK (business_hours IS NULL OR json_valid(business_hours));
