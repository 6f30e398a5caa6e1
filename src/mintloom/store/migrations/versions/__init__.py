"""One module per catalog schema revision, v<rev>_<slug>.py, chained by down_revision."""
