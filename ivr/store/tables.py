"""The store's tables (SQLAlchemy Core). A change here needs a migration in migrations/versions.

Times are UTC seconds since the epoch (a float): SQLite and PostgreSQL compare them alike,
and the CSV export formats them.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

callers = Table(
    "callers",
    metadata,
    Column("number", String(64), primary_key=True),
    Column("name", Text, nullable=False, default=""),
    Column("account", String(64), nullable=False, default=""),
    Column("tier", String(16), nullable=False, default="standard"),
)

calls = Table(
    "calls",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("caller", String(64), nullable=False, default=""),
    Column("caller_name", Text, nullable=False, default=""),
    Column("caller_account", String(64), nullable=False, default=""),
    Column("caller_tier", String(16), nullable=False, default=""),
    Column("caller_known", Boolean, nullable=False, default=False),
    Column("source", Text, nullable=False, default=""),
    Column("called", String(64), nullable=False, default=""),  # the number called (E.164) or SIP user
    Column("line", String(64), nullable=False, default=""),  # that number's name in the numbers file
    Column("language", String(35), nullable=False, default=""),  # that line's BCP 47 tag
    Column("host", String(255), nullable=False, default=""),
    Column("pid", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False, default="live"),  # live | ended
    Column("started_at", Float, nullable=False),
    Column("answered_at", Float),
    Column("ended_at", Float),
    Column("duration_ms", Integer),
    Column("dialplan", Text, nullable=False, default=""),
    Column("dialplan_version", Text, nullable=False, default=""),
    Column("path", Text, nullable=False, default="[]"),  # JSON list of node names
    Column("intents", Text, nullable=False, default="[]"),  # JSON list of {name, confidence, node, t_ms}
    Column("tier", String(16), nullable=False, default=""),  # L1 | L2 | L3
    Column("queue", String(64), nullable=False, default=""),
    Column("transfer_reason", Text, nullable=False, default=""),
    Column("outcome", String(32), nullable=False, default=""),
    Column("end_reason", Text, nullable=False, default=""),
    Column("anger_max", Float),
    Column("anxiety_max", Float),
    Column("affect_level", String(16), nullable=False, default=""),  # the highest level reached
    Column("turns", Integer, nullable=False, default=0),
    Column("recording_path", Text, nullable=False, default=""),
    Column("recording_ms", Integer),
    Column("recording_purged", Boolean, nullable=False, default=False),
    Column("transcript_purged", Boolean, nullable=False, default=False),
    Index("ix_calls_started_at", "started_at"),
    Index("ix_calls_outcome_started", "outcome", "started_at"),
    Index("ix_calls_status_host", "status", "host"),
    Index("ix_calls_caller_started", "caller", "started_at"),
    Index("ix_calls_called_started", "called", "started_at"),
)

call_events = Table(
    "call_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String(128), ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("t_ms", Integer, nullable=False),
    Column("type", String(32), nullable=False),
    Column("data", Text, nullable=False),  # the event's fields as JSON (already redacted)
    UniqueConstraint("call_id", "seq", name="uq_call_events_call_seq"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the bearer token
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_tokens_expires_at", "expires_at"),
)

agents = Table(
    "agents",
    metadata,
    Column("name", String(64), ForeignKey("users.name", ondelete="CASCADE"), primary_key=True),
    Column("skills", Text, nullable=False, default="[]"),  # JSON list
    Column("level", Integer, nullable=False, default=1),
    Column("state", String(16), nullable=False, default="logged_out"),
    Column("since", Float, nullable=False, default=0.0),
    Column("missed", Integer, nullable=False, default=0),
    Column("reason", Text, nullable=False, default=""),
    Column("call_id", String(128), nullable=False, default=""),  # the call ringing or on
    Column("sip_domain", String(255), nullable=False, default=""),
    Column("ha1", String(64), nullable=False, default=""),  # md5(name:realm:password), for Kamailio
    Column("ha1b", String(64), nullable=False, default=""),  # md5(name@realm:realm:password)
    Index("ix_agents_state", "state"),
)

queue_entries = Table(
    "queue_entries",
    metadata,
    Column("call_id", String(128), primary_key=True),
    Column("queue", String(64), nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("joined_at", Float, nullable=False),
    Column("skill", String(64), nullable=False, default=""),
    Column("reasons", Text, nullable=False, default="[]"),
    # waiting | offered | left; callback: the caller hung up to be called back, calling: being called
    Column("state", String(16), nullable=False, default="waiting"),
    Column("agent", String(64), nullable=False, default=""),
    Column("host", String(255), nullable=False, default=""),
    Column("pid", Integer, nullable=False, default=0),
    Column("left_at", Float),
    Column("leave_reason", String(32), nullable=False, default=""),
    Column("context", Text, nullable=False, default="{}"),  # what the agent's screen shows (JSON, masked)
    Column("callback", String(64), nullable=False, default=""),  # the number to call back
    Column("attempts", Integer, nullable=False, default=0),  # callbacks tried
    Column("next_try_at", Float, nullable=False, default=0.0),
    Column("ready", Boolean, nullable=False, default=True),  # the caller's worker has a line for the agent
    Column("handle_s", Float),  # answered: how long the agent had the call (the expected wait's base)
    Index("ix_queue_entries_state_queue", "state", "queue"),
    Index("ix_queue_entries_queue_left", "queue", "left_at"),
)

wrapups = Table(
    "wrapups",
    metadata,
    Column("call_id", String(128), primary_key=True),
    Column("agent", String(64), nullable=False),
    Column("disposition", String(32), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Index("ix_wrapups_agent_created", "agent", "created_at"),
)

kb_candidates = Table(
    "kb_candidates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String(128), nullable=False, default=""),
    Column("agent", String(64), nullable=False, default=""),
    Column("question", Text, nullable=False),  # as callers ask it
    Column("answer", Text, nullable=False),  # the answer that worked
    Column("state", String(16), nullable=False, default="new"),  # new | approved | rejected | merged
    Column("created_at", Float, nullable=False),
    Column("entry_key", String(64), nullable=False, default=""),  # the KB entry it became or joined
    Column("decided_by", String(64), nullable=False, default=""),
    Column("decided_at", Float),
    Index("ix_kb_candidates_state", "state", "created_at"),
)

transfers = Table(
    "transfers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String(128), nullable=False),
    Column("agent", String(64), nullable=False),  # who hands the caller on
    Column("queue", String(64), nullable=False, default=""),  # to a queue's agents ...
    Column("target", String(64), nullable=False, default=""),  # ... or to one agent by name (in `queue`)
    Column("note", Text, nullable=False, default=""),
    # requested -> transferring -> done | failed
    Column("state", String(16), nullable=False, default="requested"),
    Column("reason", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_transfers_call_state", "call_id", "state"),
)

monitors = Table(
    "monitors",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String(128), nullable=False),
    Column("supervisor", String(64), nullable=False),
    Column("mode", String(16), nullable=False),  # listen | whisper | barge
    # requested -> dialing -> active -> ended | failed; ending: the supervisor asked to stop
    Column("state", String(16), nullable=False, default="requested"),
    Column("reason", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_monitors_call_state", "call_id", "state"),
)

qa_results = Table(
    "qa_results",
    metadata,
    Column("call_id", String(128), primary_key=True),
    Column(
        "day", String(10), nullable=False
    ),  # the call's day (YYYY-MM-DD, the QA timezone): sampling's unit
    Column("score", Float, nullable=False),  # risk, 0-1
    Column("flags", Text, nullable=False, default="[]"),  # JSON [{name, weight, evidence}]
    Column("facts", Text, nullable=False, default="{}"),  # JSON: what analytics needs of the events
    Column("screened_at", Float, nullable=False),
    Column("review", String(16), nullable=False, default=""),  # "" | queued | reviewed
    Column("sample_reason", String(16), nullable=False, default=""),  # risk | random
    Index("ix_qa_results_day_score", "day", "score"),
    Index("ix_qa_results_review", "review", "day"),
)

qa_reviews = Table(
    "qa_reviews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String(128), nullable=False),
    Column("reviewer", String(64), nullable=False),
    Column("form", String(64), nullable=False, default=""),
    Column("answers", Text, nullable=False, default="{}"),  # JSON {question id: answer}
    Column("score", Float, nullable=False),  # the form's quality score, 0-1
    Column("ai_score", Float, nullable=False),  # the screening's risk when reviewed
    Column("agrees", Boolean, nullable=False),  # the reviewer's verdict matches the AI's
    Column("wrong_flags", Text, nullable=False, default="[]"),  # flags the reviewer says are wrong
    Column("comment", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Index("ix_qa_reviews_call", "call_id"),
)

kb_entries = Table(
    "kb_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False),  # the entry's name (the `answer` verb's answer_id)
    Column("version", Integer, nullable=False),
    Column("questions", Text, nullable=False),  # JSON list, as callers ask
    Column("answer", Text, nullable=False),
    Column("active", Boolean, nullable=False),  # the one live version of `key`
    Column("retired", Boolean, nullable=False, default=False),  # taken out of the KB altogether
    Column("author", String(64), nullable=False, default=""),
    Column("candidates", Text, nullable=False, default="[]"),  # JSON: the candidate ids it came from
    Column("note", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("key", "version", name="uq_kb_entries_key_version"),
    Index("ix_kb_entries_active", "active"),
)

kb_uses = Table(
    "kb_uses",
    metadata,
    Column("call_id", String(128), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("t_ms", Integer, primary_key=True),
    Column("at", Float, nullable=False),
    Column("outcome", String(32), nullable=False, default=""),  # the call's outcome after the answer
    Index("ix_kb_uses_key", "key", "version"),
)

hosts = Table(
    "hosts",
    metadata,
    Column("name", String(255), primary_key=True),  # IVR_HOST_NAME, else the machine's host name
    Column("role", String(16), nullable=False),  # media | speech | edge | api | all
    Column("address", String(255), nullable=False, default=""),  # where the others reach it
    Column("ports", Text, nullable=False, default="[]"),  # JSON: media: workers' SIP ports; speech: [tcp]
    Column("capacity", Integer, nullable=False, default=0),  # media: calls; speech: lanes
    Column("load", Integer, nullable=False, default=0),  # media: live calls; speech: jobs queued+running
    Column("state", String(16), nullable=False, default="up"),  # up | draining | lost | stopped
    Column("pid", Integer, nullable=False, default=0),
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("lost_at", Float),
    Column("note", Text, nullable=False, default=""),  # what the survivors did when it was lost
    Index("ix_hosts_role_state", "role", "state"),
)

radar_labels = Table(
    "radar_labels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String(128), nullable=False),
    Column("source", String(16), nullable=False),  # wrapup (the agent) | qa (a reviewer)
    Column("label", String(16), nullable=False),  # angry | anxious | neither
    Column("started_ms", Integer),  # where it started in the call (an utterance marked), or none
    Column("author", String(64), nullable=False, default=""),
    Column("features", Text, nullable=False, default="[]"),  # JSON: the utterances' cues when labelled
    Column("created_at", Float, nullable=False),
    UniqueConstraint("call_id", "source", name="uq_radar_labels_call_source"),  # the latest per source
    Index("ix_radar_labels_created", "created_at"),
)

radar_models = Table(
    "radar_models",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),  # 0 is the shipped model
    # proposed -> active -> replaced | rolled_back; proposed -> rejected
    Column("state", String(16), nullable=False, default="proposed"),
    Column("body", Text, nullable=False),  # JSON: heads and thresholds (prosody.radar.RadarModel, not full)
    Column("report", Text, nullable=False, default="{}"),  # JSON: before/after on the held-out calls
    Column("since", String(32), nullable=False, default=""),  # the labelled calls it learned from
    Column("budget", Float, nullable=False, default=0.0),  # false escalations per 100 calm calls
    Column("replaces", Integer, nullable=False, default=0),  # the version live when it was approved
    Column("created_by", String(64), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("decided_by", String(64), nullable=False, default=""),
    Column("decided_at", Float),
    Index("ix_radar_models_state", "state"),
)

admin_settings = Table(
    "admin_settings",
    metadata,
    Column("key", String(64), primary_key=True),  # e.g. radar.false_alarms_per_100
    Column("value", Text, nullable=False),  # JSON
    Column("updated_by", String(64), nullable=False, default=""),
    Column("updated_at", Float, nullable=False),
)
