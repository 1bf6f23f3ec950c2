"""People who sign in: users, their one-time sign-in links, their web sessions, OpenID Connect."""
