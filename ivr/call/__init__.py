"""One call: the session, its speech pipeline, and what it talks to (the speech service)."""
