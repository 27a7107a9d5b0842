"""Teams data the sync jobs keep: the directory (teams, channels) and channel messages."""
