"""What a call must not keep: card numbers and admin-configured patterns (`redact`)."""

from ivr.privacy.redact import RedactingFilter, Redactor, find_cards, redact_text

__all__ = ["RedactingFilter", "Redactor", "find_cards", "redact_text"]
