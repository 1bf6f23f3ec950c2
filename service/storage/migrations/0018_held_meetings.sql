-- The held meetings of every case, one row each, written with the case (service/report_facts.py), so the
-- yearly summary counts them from an index instead of reading every case document of a region. Each row
-- carries its case's scope (region, organisations, integration), rewritten whenever the case is saved, and
-- the Stockholm year and month the meeting started in, so counting needs neither a join nor a time zone.
-- `after_discharge`: the case has a discharge notice and the meeting starts at or after it (KVÅ AUI25).
create table held_meetings (
    case_id text not null references cases (case_id),
    meeting_id text not null,
    region text not null,
    organisations text[] not null,
    integration_id text not null,
    kind text not null check (kind in ('initial', 'followup')),
    starts_at timestamptz not null,
    local_year smallint not null,
    local_month smallint not null check (local_month between 1 and 12),
    after_discharge boolean not null,
    primary key (case_id, meeting_id)
);
create index held_meetings_region_year on held_meetings (region, local_year);

insert into held_meetings (case_id, meeting_id, region, organisations, integration_id, kind, starts_at,
    local_year, local_month, after_discharge)
select c.case_id, m.key, c.region, c.organisations, c.integration_id, m.value ->> 'kind', held.starts_at,
    extract(year from held.starts_at at time zone 'Europe/Stockholm'),
    extract(month from held.starts_at at time zone 'Europe/Stockholm'),
    m.value ->> 'kind' = 'initial'
        and coalesce((c.state ->> 'discharge_notice_at')::timestamptz <= held.starts_at, false)
from cases c
cross join lateral json_each(c.state -> 'meetings') m
cross join lateral (select (m.value ->> 'starts_at')::timestamptz as starts_at) held
where m.value ->> 'status' = 'held';
