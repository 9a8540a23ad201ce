"""Understanding the caller's words: intents (nearest examples + a classifier trained at load)
and the knowledge base's ranking, on one sentence embedder."""
