"""The speech service: one process per machine that holds the models and serves every
worker over a local socket (`protocol`), deciding what runs when (`scheduler`)."""
