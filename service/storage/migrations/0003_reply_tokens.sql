-- Reply links: each invitation's token is derived with HMAC and only its SHA-256 is kept, mapped to the
-- invitation it answers. A row is written when the first message carrying the token is composed.
create table reply_tokens (
    token_hash bytea primary key,
    case_id text not null,
    meeting_id text not null,
    participant_id text not null,
    created_at timestamptz not null
);
create index reply_tokens_invitation on reply_tokens (case_id, meeting_id, participant_id);
