-- The same firing as migration 0021's, with the claim still held judged by the row's id among the batch's
-- and its attempt at the same position: `timer_id = any(...)` lets the update read the batch's rows by
-- their primary key, where joining an unnest of (id, attempt) pairs cost twice the plain update of the
-- same rows (measured over batches of 100). The ids of one batch are distinct, so the position names
-- the row's own attempt.
create or replace function fire_claimed_timers(
    cases text[], claimed_ids bigint[], claimed_attempts integer[], claimed_by text, fired_at timestamptz
) returns setof bigint language plpgsql as $$
begin
    perform pg_advisory_xact_lock(hashtextextended('case:' || c, 0)) from unnest(cases) as c;
    -- The claim is still ours if the row is running under our lease for this very attempt; anything
    -- else means an event cancelled or moved it, or our lease ran out and another process took it.
    return query
        update timers set state = 'done', lease_owner = null, lease_until = null, updated_at = fired_at
        where timers.timer_id = any(claimed_ids)
            and timers.attempts = claimed_attempts[array_position(claimed_ids, timers.timer_id)]
            and timers.state = 'running' and timers.lease_owner = claimed_by
        returning timers.timer_id;
end
$$;
