-- Outgoing webhooks. A subscription keeps the scope of the token that made it and receives only events
-- about cases that scope sees. Its secret is encrypted like the integrations' (it must be read back to sign).
create table webhook_subscriptions (
    subscription_id text primary key,
    url text not null,
    event_types text[] not null,
    notify_email text not null,
    description text not null default '',
    secret_encrypted bytea not null,
    regions text[] not null,
    organisations text[] not null,
    integration_id text references integrations (integration_id),
    created_by text not null,
    created_at timestamptz not null,
    disabled_at timestamptz,
    disabled_reason text
);

-- One row per event sent to at least one subscription: the exact body every delivery and retry sends, under
-- the webhook-id receivers deduplicate on.
create table webhook_events (
    webhook_id text primary key,
    type text not null,
    case_id text not null,
    body text not null,
    created_at timestamptz not null
);
create index webhook_events_created on webhook_events (created_at);

-- The outbox of webhooks: one row per (subscription, event), written in the transaction of the change.
-- Times are business time, except the lease, which is about a live process and so is real time.
create table webhook_deliveries (
    delivery_id bigint generated always as identity primary key,
    subscription_id text not null references webhook_subscriptions (subscription_id) on delete cascade,
    webhook_id text not null references webhook_events (webhook_id),
    state text not null default 'pending' check (state in ('pending', 'sending', 'delivered', 'failed')),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null,
    first_attempt_at timestamptz,
    last_attempt_at timestamptz,
    last_status integer,
    last_error text,
    lease_owner text,
    lease_until timestamptz,
    created_at timestamptz not null,
    delivered_at timestamptz,
    unique (subscription_id, webhook_id)
);
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where state = 'pending';
create index webhook_deliveries_lease on webhook_deliveries (lease_until) where state = 'sending';
create index webhook_deliveries_event on webhook_deliveries (webhook_id);
create index webhook_deliveries_recent on webhook_deliveries (subscription_id, delivery_id desc);
