-- The coordinators' daily digest: a row per working day it ran on (the first one bounds how far back the
-- deviations go), and which digest listed each deviation, so each is listed exactly once.
create table digests (
    day date primary key,
    ran_at timestamptz not null,
    messages integer not null
);

create table digest_deviations (
    deviation_id text primary key references deviations (deviation_id),
    day date not null references digests (day)
);
