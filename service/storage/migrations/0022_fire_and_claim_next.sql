-- Firing a batch, and claiming the next one in the same transaction: the next batch's claim commits with
-- this batch's `done` marking, before the next batch's case locks are taken (in its own transaction), so
-- a claim still commits before its locks are taken, and a batch costs a round trip less. The claim comes
-- after this batch's locks (fire_claimed_timers takes them first) and skips locked rows, so nothing in the
-- transaction waits for a lock while holding the claimed rows. Rows with fired true are this batch's
-- timers marked done (only timer_id set); rows with fired false are the next batch, claimed.
create or replace function fire_claimed_timers_and_claim(
    cases text[], claimed_ids bigint[], claimed_attempts integer[], claimed_by text, fired_at timestamptz,
    next_limit integer, lease interval
) returns table (
    fired boolean, timer_id bigint, case_id text, key text, kind text, due_at timestamptz, payload jsonb,
    attempts integer, trace_context text
) language plpgsql as $$
#variable_conflict use_column
begin
    return query
        select true, done.id, null::text, null::text, null::text, null::timestamptz, null::jsonb,
            null::integer, null::text
        from fire_claimed_timers(cases, claimed_ids, claimed_attempts, claimed_by, fired_at) as done (id);
    if next_limit > 0 then
        return query
            with due as (
                select t.timer_id from timers t
                where t.state = 'scheduled' and t.due_at <= fired_at
                order by t.due_at
                limit next_limit
                for update skip locked
            )
            update timers set state = 'running', lease_owner = claimed_by,
                lease_until = clock_timestamp() + lease, attempts = timers.attempts + 1, updated_at = fired_at
            from due where timers.timer_id = due.timer_id
            returning false, timers.timer_id, timers.case_id, timers.key, timers.kind, timers.due_at,
                timers.payload, timers.attempts, timers.trace_context;
    end if;
end
$$;
