"""Real SIP calls with pjsua2: the endpoint thread, its calls, and their transport."""
