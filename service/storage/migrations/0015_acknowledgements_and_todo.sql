-- A coordinator acknowledges a deviation once: when, who (a token or user id), and a note in their own
-- words that never leaves the service (retention erases it with the rest of a closed case's free text).
alter table deviations
    add column acknowledged_at timestamptz,
    add column acknowledged_by text,
    add column acknowledgement_note text;

-- A case's deviations, and those not yet acknowledged (what the to-do list counts for every case).
create index deviations_case on deviations (case_id, detected_at);
create index deviations_unacknowledged on deviations (case_id) where acknowledged_at is null;
-- The deviations page lists the newest first.
create index deviations_time on deviations (detected_at desc, deviation_id desc);

-- What the to-do list needs of each case, kept beside its document by PostgreSQL itself (stored
-- generated columns), so that ordering ten thousand cases by urgency reads a few small columns instead
-- of every case document. The functions read only their argument: immutable. Dates are built with
-- make_date, which, unlike a text-to-date cast, does not depend on the session's DateStyle.
create function sipvakt_open_due_dates(state json) returns date[]
language sql immutable parallel safe as $$
    select coalesce(array_agg(make_date(
        substr(d ->> 'due', 1, 4)::int, substr(d ->> 'due', 6, 2)::int, substr(d ->> 'due', 9, 2)::int
    ) order by d ->> 'due'), '{}')
    from json_array_elements(
        case when json_typeof(state -> 'deadlines') = 'array' then state -> 'deadlines' else '[]'::json end
    ) as d
    where d ->> 'status' <> 'met' and d ->> 'due' ~ '^\d{4}-\d{2}-\d{2}$'
$$;

-- Invitations of scheduled meetings that went out and have no answer: the digest's "unanswered" too.
create function sipvakt_unanswered(state json) returns integer
language sql immutable parallel safe as $$
    select count(*)::int
    from json_each(
        case when json_typeof(state -> 'meetings') = 'object' then state -> 'meetings' else '{}'::json end
    ) as m
    cross join lateral json_each(
        case when json_typeof(m.value -> 'invitations') = 'object' then m.value -> 'invitations'
             else '{}'::json end
    ) as i
    where m.value ->> 'status' = 'scheduled' and i.value ->> 'status' in ('sent', 'unanswered')
$$;

create function sipvakt_warning_count(state json) returns integer
language sql immutable parallel safe as $$
    select case when json_typeof(state -> 'warnings') = 'array'
                then json_array_length(state -> 'warnings') else 0 end
$$;

alter table cases
    add column open_due_dates date[] generated always as (sipvakt_open_due_dates(state)) stored,
    add column unanswered integer generated always as (sipvakt_unanswered(state)) stored,
    add column warning_count integer generated always as (sipvakt_warning_count(state)) stored;

-- Scope reads cases by region and by overlap of organisations.
create index cases_organisations on cases using gin (organisations);
create index cases_open_region on cases (region) where status = 'open';
