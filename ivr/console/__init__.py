"""The agent and supervisor console: its pages (`pages.py`, mounted by the API) and the
hand-over of a call to it (`handoff.py`)."""
