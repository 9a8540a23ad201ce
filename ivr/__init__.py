"""The IVR: calls, sessions, transports, dialplans, agent queues, the API and the CLI."""
