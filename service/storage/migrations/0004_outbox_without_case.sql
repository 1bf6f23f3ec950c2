-- Some messages belong to no single case: a coordinator's daily digest, the notice that a webhook
-- endpoint was disabled.
alter table outbox alter column case_id drop not null;
