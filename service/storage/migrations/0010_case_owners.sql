-- The integration a case belongs to, decided once: the first event of a case id claims it, in the
-- transaction that stores the event, so two integrations racing for one new id cannot both win.
create table case_owners (
    case_id text primary key,
    integration_id text not null references integrations (integration_id),
    claimed_at timestamptz not null
);

insert into case_owners (case_id, integration_id, claimed_at)
select case_id, integration_id, opened_at from cases
on conflict do nothing;

insert into case_owners (case_id, integration_id, claimed_at)
select distinct on (case_id) case_id, integration_id, received_at from events order by case_id, seq
on conflict do nothing;
