-- The held meetings of every case, one row each, written with the case (service/report_facts.py), so the
-- yearly summary counts them with an index instead of reading every case document of a region.
-- `after_discharge`: the case has a discharge notice and the meeting starts at or after it (KVÅ AUI25).
create table held_meetings (
    case_id text not null references cases (case_id),
    meeting_id text not null,
    kind text not null check (kind in ('initial', 'followup')),
    starts_at timestamptz not null,
    after_discharge boolean not null,
    primary key (case_id, meeting_id)
);
create index held_meetings_starts_at on held_meetings (starts_at);
create index cases_region_opened_at on cases (region, opened_at);

insert into held_meetings (case_id, meeting_id, kind, starts_at, after_discharge)
select c.case_id, m.key, m.value ->> 'kind', (m.value ->> 'starts_at')::timestamptz,
    coalesce((c.state ->> 'discharge_notice_at')::timestamptz <= (m.value ->> 'starts_at')::timestamptz, false)
from cases c, json_each(c.state -> 'meetings') m
where m.value ->> 'status' = 'held';
