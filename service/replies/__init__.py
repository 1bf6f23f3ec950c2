"""The reply page that participants open from their invitation."""
