-- Calendar UIDs: one random UID per invitation (case, meeting, participant), drawn when its first calendar
-- is written and reused by every update and the cancellation. A reply is found by its UID, so the UID must
-- not be derivable from the case and meeting ids.
create table calendar_uids (
    case_id text not null,
    meeting_id text not null,
    participant_id text not null,
    -- The whole UID; for a legacy row only its part before '@' (the service's domain is added when sent).
    uid text not null,
    -- Legacy: the invitation's calendars went out before UIDs were random, as `case_id.meeting_id@domain`.
    -- Their recipients' calendars hold that UID, and a new one would make a second event there, so those
    -- invitations keep it; replies to them are still bound to the participant and the sender's address.
    legacy boolean not null default false,
    created_at timestamptz not null,
    primary key (case_id, meeting_id, participant_id)
);
create index calendar_uids_uid on calendar_uids (uid);

insert into calendar_uids (case_id, meeting_id, participant_id, uid, legacy, created_at)
select distinct on (case_id, meeting_id, participant_id)
    case_id, meeting_id, participant_id, case_id || '.' || meeting_id, true, created_at
from outbox
where channel = 'email' and kind in ('request', 'update', 'cancel')
    and meeting_id is not null and participant_id is not null
    and (state in ('sent', 'sending') or attempts > 0)
order by case_id, meeting_id, participant_id, created_at;

-- An Exchange answer that names none of our messages is looked for among the invitations sent to its
-- sender's address (service.inbound).
create index outbox_email_recipient on outbox (lower(recipient)) where channel = 'email';
