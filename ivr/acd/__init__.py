"""Automatic call distribution: who waits, who rings next (`policy`, sans-IO), and the engine
that keeps queues and agents in the store so every worker sees the same ones."""
