-- Failed attempts per source address and kind, in fixed windows, shared by every process on the database:
-- a limit holds however many replicas an attacker's requests are spread over.
create table rate_limit_hits (
    bucket text not null,
    source text not null,
    window_start timestamptz not null,
    hits integer not null,
    primary key (bucket, source, window_start)
);

create index rate_limit_hits_window on rate_limit_hits (window_start);
