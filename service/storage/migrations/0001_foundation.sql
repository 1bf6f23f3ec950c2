-- Integrations push events; each has one or more webhook secrets (several at once during rotation).
create table integrations (
    integration_id text primary key,
    name text not null unique,
    created_at timestamptz not null,
    disabled_at timestamptz
);

create table integration_secrets (
    secret_id bigint generated always as identity primary key,
    integration_id text not null references integrations (integration_id),
    secret_encrypted bytea not null,
    created_at timestamptz not null,
    revoked_at timestamptz
);

-- API tokens: only a SHA-256 hash is kept; the token itself is shown once when it is made.
create table tokens (
    token_id text primary key,
    token_hash bytea not null unique,
    role text not null check (role in ('integration', 'coordinator', 'auditor', 'admin')),
    regions text[] not null,
    organisations text[] not null,
    integration_id text references integrations (integration_id),
    label text not null default '',
    created_at timestamptz not null,
    revoked_at timestamptz
);

-- Every accepted event, stored before the intake answers 202. `seq` is the order of receipt, which is
-- the order events of one case are applied in.
create table events (
    event_id text primary key,
    seq bigint generated always as identity unique,
    integration_id text not null references integrations (integration_id),
    webhook_id text not null,
    body_sha256 bytea not null,
    case_id text not null,
    type text not null,
    occurred_at timestamptz not null,
    received_at timestamptz not null,
    payload jsonb not null,
    state text not null default 'pending' check (state in ('pending', 'waiting', 'applied', 'rejected')),
    attempts integer not null default 0,
    detail text,
    applied_at timestamptz,
    unique (integration_id, webhook_id)
);
create index events_pending on events (seq) where state = 'pending';
create index events_case on events (case_id, seq);

create table cases (
    case_id text primary key,
    integration_id text not null references integrations (integration_id),
    region text not null,
    organisations text[] not null,
    status text not null,
    -- json, not jsonb: the document keeps its key order, so meetings and invitations read back as given.
    state json not null,
    version integer not null,
    opened_at timestamptz not null,
    updated_at timestamptz not null
);
create index cases_region on cases (region);

-- Durable timers: a row per deadline, reminder or escalation point of a case.
create table timers (
    timer_id bigint generated always as identity primary key,
    case_id text not null,
    key text not null,
    kind text not null,
    due_at timestamptz not null,
    payload jsonb not null default '{}',
    state text not null default 'scheduled'
        check (state in ('scheduled', 'running', 'done', 'cancelled', 'dead')),
    attempts integer not null default 0,
    lease_owner text,
    lease_until timestamptz,
    last_error text,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    unique (case_id, key)
);
create index timers_due on timers (due_at) where state = 'scheduled';
create index timers_lease on timers (lease_until) where state = 'running';

-- The transactional outbox: a message is a row written with the state change that caused it.
create table outbox (
    message_id text primary key,
    case_id text not null,
    kind text not null,
    channel text not null check (channel in ('email', 'letter', 'webhook')),
    meeting_id text,
    participant_id text,
    recipient text not null,
    payload jsonb not null default '{}',
    state text not null default 'queued'
        check (state in ('queued', 'sending', 'sent', 'failed', 'cancelled')),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null,
    last_error text,
    created_at timestamptz not null,
    sent_at timestamptz
);
create index outbox_due on outbox (next_attempt_at) where state = 'queued';
create index outbox_case on outbox (case_id);

create table deviations (
    deviation_id text primary key,
    case_id text not null references cases (case_id),
    integration_id text not null,
    region text not null,
    organisations text[] not null,
    kind text not null,
    detected_at timestamptz not null,
    meeting_id text,
    participant_id text,
    action_id text,
    rule text
);
create index deviations_region_time on deviations (region, detected_at);

-- The test clock (only used when SIPVAKT_TEST_CLOCK is set): one row, shared by every process.
create table test_clock (
    singleton boolean primary key default true check (singleton),
    now timestamptz not null
);
