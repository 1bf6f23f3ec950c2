-- People who sign in to the web app. A user's role and scope read exactly as a token's (service/access.py);
-- a disabled user keeps their row, so the actions recorded under their id still name someone.
create table users (
    user_id text primary key,
    email text not null,
    role text not null check (role in ('coordinator', 'auditor', 'admin')),
    regions text[] not null,
    organisations text[] not null,
    created_at timestamptz not null,
    disabled_at timestamptz
);
create unique index users_email on users (lower(email));

-- One-time sign-in links: only the token's SHA-256 is kept. `used_at` makes a link work once.
create table sign_in_links (
    token_hash bytea primary key,
    user_id text not null references users (user_id),
    created_at timestamptz not null,
    expires_at timestamptz not null,
    used_at timestamptz
);
create index sign_in_links_expiry on sign_in_links (expires_at);

-- An OpenID Connect sign-in under way: what the callback checks (state, nonce) and the PKCE verifier.
-- In the database, not in a process, so that the provider may send the browser back to any replica.
create table oidc_attempts (
    state_hash bytea primary key,
    nonce text not null,
    code_verifier text not null,
    created_at timestamptz not null,
    expires_at timestamptz not null
);

-- Web sessions, shared by every replica. The cookie holds the session token; only its SHA-256 is kept.
create table web_sessions (
    session_hash bytea primary key,
    user_id text not null references users (user_id),
    csrf_token text not null,
    created_at timestamptz not null,
    last_seen_at timestamptz not null,
    ended_at timestamptz
);
create index web_sessions_user on web_sessions (user_id);
