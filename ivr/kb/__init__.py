"""The knowledge-base loop: agents' wrap-ups suggest candidates (question as the caller asked
it, the answer that worked); a supervisor edits, merges near-duplicates, approves or rejects
them; approved entries are live for the dialplan's `answer` verb (and for intent gathers that
take `knowledge:`) within a second, versioned, and can be rolled back; each use in a call is
counted with what the call came to afterwards.
"""

from ivr.kb.entries import KbError, KnowledgeRecords, slug

__all__ = ["KbError", "KnowledgeRecords", "slug"]
