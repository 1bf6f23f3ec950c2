-- A message being sent is held under a lease in real time (the database's clock_timestamp()), by a
-- process that keeps a connection named after itself open: a process that is gone no longer holds
-- anything, whatever the test clock says.
alter table outbox add column lease_owner text;
alter table outbox add column lease_until timestamptz;
create index outbox_sending on outbox (lease_owner) where state = 'sending';

-- The meeting sequence whose time a letter's PDF carries: posting it tells the participant that time.
alter table letters add column sequence integer;
