-- Coordinators' reminder policy overrides: one partial policy per region and per case (config/
-- reminder_policy.py says how they stack on the region's rule files).
create table reminder_policies (
    scope text not null check (scope in ('region', 'case')),
    subject text not null,
    override jsonb not null,
    updated_at timestamptz not null,
    updated_by text not null,
    primary key (scope, subject)
);
