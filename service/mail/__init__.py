"""The inbound SMTP receiver and what it does with the replies it receives."""
