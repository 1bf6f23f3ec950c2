-- Storing an accepted event, the intake's whole write, as one statement: the case claimed for the
-- integration (or its owner found), the event inserted once per (integration, webhook-id) with the
-- processor's notice, and for a webhook-id stored before, whether its body was the same. From the intake
-- it took BEGIN, the claim, the insert and COMMIT, four round trips; a call is one, and atomic on its own.
-- Each statement of the body takes a new snapshot (read committed): when a concurrent transaction claims
-- the same new case, the insert waits for it and the select after it sees its owner; when it stores the
-- same webhook-id, likewise for the event.
create or replace function store_event(
    new_event_id text, integration text, webhook text, digest bytea, case_key text, event_type text,
    occurred timestamptz, received timestamptz, body jsonb, trace text, channel text
) returns table (status text, event_id text) language plpgsql as $$
#variable_conflict use_column
declare
    owner text;
    stored text;
    earlier_id text;
    earlier_digest bytea;
begin
    insert into case_owners (case_id, integration_id, claimed_at) values (case_key, integration, received)
        on conflict (case_id) do nothing returning integration_id into owner;
    if owner is null then
        select o.integration_id into owner from case_owners o where o.case_id = case_key;
    end if;
    if owner <> integration then
        return query select 'foreign'::text, null::text;
        return;
    end if;
    insert into events (event_id, integration_id, webhook_id, body_sha256, case_id, type, occurred_at,
        received_at, payload, trace_context)
        values (new_event_id, integration, webhook, digest, case_key, event_type, occurred, received, body,
            trace)
        on conflict (integration_id, webhook_id) do nothing returning event_id into stored;
    if stored is not null then
        perform pg_notify(channel, case_key);
        return query select 'accepted'::text, stored;
        return;
    end if;
    select e.event_id, e.body_sha256 into earlier_id, earlier_digest from events e
        where e.integration_id = integration and e.webhook_id = webhook;
    return query select case when earlier_digest = digest then 'duplicate' else 'conflict' end, earlier_id;
end
$$;
