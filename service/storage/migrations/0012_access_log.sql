-- The access log (HSLF-FS 2016:40 4 kap. 9–10 §§): every read of a case, every change by a person, every
-- disclosure, print and export is one row. Rows are never updated or deleted (the triggers below refuse it
-- whoever asks, and the service's role holds no such grant), and each row holds the SHA-256 of the one
-- before it over a canonical encoding (audit_canonical), so that `sipvakt audit verify` finds the first row
-- that was altered or removed. Nothing here is erased by retention: the rows name ids, not people.
create table audit_log (
    seq bigint primary key,
    entry_id text not null unique,
    at timestamptz not null,
    actor_kind text not null check (actor_kind in ('token', 'user', 'service')),
    actor_id text not null,
    actor_organisation text,
    action text not null check (action in ('read', 'change', 'disclose', 'print', 'export')),
    channel text not null check (channel in ('api', 'web', 'mail', 'letter', 'webhook')),
    case_id text,
    -- The case's person reference (the pseudonymous reference the integration gives, `person.reference`),
    -- never a personnummer: the intake refuses one there.
    person_reference text,
    request_id text,
    -- The case's scope when the entry was written: who may read the entry.
    region text,
    organisations text[] not null default '{}',
    -- A disclosure's recipient: the participant and their organisation, or the webhook subscription.
    recipient_organisation text,
    recipient_participant text,
    recipient_subscription text,
    -- Written by the trigger audit_append, whatever an inserter gives.
    prev_hash bytea not null default '',
    hash bytea not null default ''
);
create index audit_log_case on audit_log (case_id, seq);
create index audit_log_person on audit_log (person_reference, seq);
create index audit_log_at on audit_log (at);

-- The chain's head: the last entry's number and hash. Appending updates this one row, whose lock
-- serialises appends (the lock is held to the end of the appending transaction).
create table audit_chain (
    singleton boolean primary key default true check (singleton),
    seq bigint not null,
    hash bytea not null
);
insert into audit_chain (singleton, seq, hash) values (true, 0, decode(repeat('00', 32), 'hex'));

-- One field of the canonical encoding: its length in UTF-8 bytes, a colon and the text; '-' for null.
create function audit_field(value text) returns text language sql immutable as $$
    select case when value is null then '-' else octet_length(value)::text || ':' || value end
$$;

-- The bytes an entry's hash covers (service/audit/chain.py encodes the same in Python).
create function audit_canonical(e audit_log) returns bytea language sql immutable as $$
    select convert_to(
        audit_field(e.seq::text) || '|' || audit_field(e.entry_id) || '|'
        || audit_field(to_char(e.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')) || '|'
        || audit_field(e.actor_kind) || '|' || audit_field(e.actor_id) || '|'
        || audit_field(e.actor_organisation) || '|' || audit_field(e.action) || '|'
        || audit_field(e.channel) || '|' || audit_field(e.case_id) || '|'
        || audit_field(e.person_reference) || '|' || audit_field(e.request_id) || '|'
        || audit_field(e.region) || '|' || audit_field(cardinality(e.organisations)::text)
        || coalesce(
            (select string_agg('|' || audit_field(o), '' order by n)
             from unnest(e.organisations) with ordinality as u (o, n)),
            ''
        ) || '|'
        || audit_field(e.recipient_organisation) || '|' || audit_field(e.recipient_participant) || '|'
        || audit_field(e.recipient_subscription),
        'UTF8'
    )
$$;

-- Number, link and hash each new entry whatever the inserter wrote in those columns. Security definer:
-- the service's role may not touch the chain's head itself.
create function audit_append() returns trigger language plpgsql security definer
set search_path = public, pg_catalog as $$
declare
    head record;
begin
    update audit_chain set seq = seq + 1 returning seq, hash into head;
    new.seq := head.seq;
    new.entry_id := 'aud_' || head.seq::text;
    new.prev_hash := head.hash;
    new.hash := sha256(head.hash || audit_canonical(new));
    update audit_chain set hash = new.hash;
    return new;
end
$$;
create trigger audit_log_chain before insert on audit_log
for each row execute function audit_append();

create function audit_refuse() returns trigger language plpgsql as $$
begin
    raise exception 'the access log is append-only: % is refused', tg_op using errcode = 'insufficient_privilege';
end
$$;
create trigger audit_log_append_only before update or delete on audit_log
for each row execute function audit_refuse();
create trigger audit_log_no_truncate before truncate on audit_log
for each statement execute function audit_refuse();
create trigger audit_chain_no_delete before delete on audit_chain
for each row execute function audit_refuse();
create trigger audit_chain_no_truncate before truncate on audit_chain
for each statement execute function audit_refuse();

-- Entries written inside a longer transaction (a policy change, a listing, an erasure) are staged here and
-- appended to the chain when the transaction commits: taking the chain's lock mid-transaction, before
-- other locks, could deadlock with a transaction that waits for it at its own commit. A staged row lives
-- only until that commit.
create table audit_pending (
    pending_id bigint generated always as identity primary key,
    at timestamptz not null,
    actor_kind text not null,
    actor_id text not null,
    actor_organisation text,
    action text not null,
    channel text not null,
    case_id text,
    person_reference text,
    request_id text,
    region text,
    organisations text[] not null default '{}'
);

create function audit_flush() returns trigger language plpgsql security definer
set search_path = public, pg_catalog as $$
begin
    insert into audit_log (
        at, actor_kind, actor_id, actor_organisation, action, channel, case_id, person_reference,
        request_id, region, organisations
    ) values (
        new.at, new.actor_kind, new.actor_id, new.actor_organisation, new.action, new.channel, new.case_id,
        new.person_reference, new.request_id, new.region, new.organisations
    );
    delete from audit_pending where pending_id = new.pending_id;
    return null;
end
$$;
create constraint trigger audit_pending_flush after insert on audit_pending
deferrable initially deferred for each row execute function audit_flush();

-- A disclosure is logged by the database itself when its outbox row commits: no code path can queue a
-- message without its entry, and the entry is appended at commit, so the chain's lock is held only for
-- the commit of an event's transaction, not for all of it. A digest (no case of its own) discloses each
-- case it lists.
create function audit_outbox_disclosure() returns trigger language plpgsql security definer
set search_path = public, pg_catalog as $$
declare
    disclosed text[];
begin
    if new.case_id is not null then
        disclosed := array[new.case_id];
    elsif new.kind = 'digest' then
        disclosed := array(
            select distinct value #>> '{}' from jsonb_path_query(new.payload, '$.*[*].case_id') as value
        );
    else
        return null;
    end if;
    insert into audit_log (
        at, actor_kind, actor_id, action, channel, case_id, person_reference, region, organisations,
        recipient_organisation, recipient_participant
    )
    select new.created_at, 'service', 'sipvakt', 'disclose',
        case new.channel when 'email' then 'mail' else new.channel end,
        c.case_id, c.state -> 'person' ->> 'reference', c.region, c.organisations,
        c.state -> 'meetings' -> new.meeting_id -> 'participants' -> new.participant_id ->> 'organisation',
        new.participant_id
    from cases c where c.case_id = any (disclosed) order by c.case_id;
    return null;
end
$$;
create constraint trigger outbox_disclosed after insert on outbox
deferrable initially deferred for each row execute function audit_outbox_disclosure();

create function audit_webhook_disclosure() returns trigger language plpgsql security definer
set search_path = public, pg_catalog as $$
begin
    insert into audit_log (
        at, actor_kind, actor_id, action, channel, case_id, person_reference, region, organisations,
        recipient_subscription
    )
    select new.created_at, 'service', 'sipvakt', 'disclose', 'webhook', c.case_id,
        c.state -> 'person' ->> 'reference', c.region, c.organisations, new.subscription_id
    from webhook_events w join cases c using (case_id) where w.webhook_id = new.webhook_id;
    return null;
end
$$;
create constraint trigger webhook_disclosed after insert on webhook_deliveries
deferrable initially deferred for each row execute function audit_webhook_disclosure();

-- The role the service runs as (README, "Access log"): every table's ordinary grants, but on the access
-- log only SELECT and INSERT, and on the chain's head only SELECT. Where the migrating user may not make
-- roles, an administrator makes it as the README says and runs this file's grants.
do $$
begin
    if not exists (select from pg_roles where rolname = 'sipvakt_service') then
        create role sipvakt_service nologin;
    end if;
exception
    when insufficient_privilege or duplicate_object then
        raise notice 'the role sipvakt_service was not created here';
end
$$;

do $$
begin
    if exists (select from pg_roles where rolname = 'sipvakt_service') then
        execute 'grant usage on schema public to sipvakt_service';
        execute 'grant select, insert, update, delete on all tables in schema public to sipvakt_service';
        execute 'grant usage, select on all sequences in schema public to sipvakt_service';
        execute 'revoke update, delete, truncate on audit_log from sipvakt_service';
        execute 'revoke insert, update, delete, truncate on audit_chain from sipvakt_service';
        execute 'alter default privileges in schema public'
            ' grant select, insert, update, delete on tables to sipvakt_service';
        execute 'alter default privileges in schema public grant usage, select on sequences to sipvakt_service';
    end if;
end
$$;
