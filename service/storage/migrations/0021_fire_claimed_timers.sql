-- Firing a batch of claimed timers begins with two statements that always go together: take the advisory
-- lock of each of the batch's cases (the one the event processor takes while it changes a case and its
-- timers), then mark done the timers the worker still holds. One call makes them one round trip. The body
-- runs its statements in order, so the locks are all taken, in the order given (the worker sorts the cases,
-- so that two workers cannot deadlock), before any timer row is touched: the other order could deadlock
-- with an event processor holding a case's lock and waiting for that case's timer rows.
create or replace function fire_claimed_timers(
    cases text[], claimed_ids bigint[], claimed_attempts integer[], claimed_by text, fired_at timestamptz
) returns setof bigint language plpgsql as $$
begin
    perform pg_advisory_xact_lock(hashtextextended('case:' || c, 0)) from unnest(cases) as c;
    -- The claim is still ours if the row is running under our lease for this very attempt; anything
    -- else means an event cancelled or moved it, or our lease ran out and another process took it.
    return query
        update timers set state = 'done', lease_owner = null, lease_until = null, updated_at = fired_at
        from unnest(claimed_ids, claimed_attempts) as claimed (timer_id, attempts)
        where timers.timer_id = claimed.timer_id and timers.attempts = claimed.attempts
            and timers.state = 'running' and timers.lease_owner = claimed_by
        returning timers.timer_id;
end
$$;
