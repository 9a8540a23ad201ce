"""Process wiring: `ivr serve` (the supervisor of the speech service, the SIP workers and
Kamailio, and the API) and `ivr worker` (one SIP worker process)."""
