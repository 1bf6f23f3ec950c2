-- Letters for participants without e-mail: a PDF per recipient, waiting to be printed and posted.
create table letters (
    letter_id text primary key,
    case_id text not null,
    region text not null,
    organisations text[] not null,
    meeting_id text,
    participant_id text,
    kind text not null,
    pdf bytea not null,
    state text not null default 'queued' check (state in ('queued', 'sent')),
    created_at timestamptz not null,
    sent_at timestamptz
);
create index letters_queue on letters (created_at) where state = 'queued';
