"""The background workers: applying events, firing timers, delivering mail and webhooks."""
