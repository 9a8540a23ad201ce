"""Agents in the store: who takes calls, with which skills, in which state. An agent is a
user (role agent or above) with a row here; their password also signs their phone in to
Kamailio, which checks the HA1 digest kept here (the password itself is never stored)."""

from __future__ import annotations

import hashlib
import json
import time

from sqlalchemy import Engine, insert, select, update

from ivr.acd.policy import Agent, AgentState, agent_from_row
from ivr.store.engine import UserError, write_tx
from ivr.store.tables import agents, users
from ivr.users import Users

SETTABLE = (AgentState.AVAILABLE, AgentState.AWAY, AgentState.LOGGED_OUT)
"""The states an agent may put themselves in (the others follow the calls)."""
PHONE_REASON = "phone: "
"""The away reason the browser phone gives when it cannot take calls (and takes back)."""


def ha1(name: str, realm: str, password: str) -> tuple[str, str]:
    a = hashlib.md5(f"{name}:{realm}:{password}".encode()).hexdigest()
    b = hashlib.md5(f"{name}@{realm}:{realm}:{password}".encode()).hexdigest()
    return a, b


class Agents:
    def __init__(self, engine: Engine, users_repo: Users) -> None:
        self.engine = engine
        self.users = users_repo

    def add(
        self,
        name: str,
        password: str,
        skills: list[str],
        level: int = 1,
        realm: str = "127.0.0.1",
        replace: bool = False,
    ) -> None:
        """A new agent (and their user, role agent), or with replace=True new skills, level and password."""
        if not 1 <= level <= 3:
            raise UserError(f"level {level}: 1, 2 or 3")
        bad = [s for s in skills if not s.replace("_", "").replace("-", "").isalnum()]
        if bad or not skills:
            raise UserError(
                f"skills {','.join(skills) or '(none)'}: names of letters, digits, - and _, comma-separated"
            )
        with self.engine.connect() as conn:
            role = conn.execute(select(users.c.role).where(users.c.name == name)).scalar()
        self.users.add(name, role or "agent", password, replace=replace)
        a, b = ha1(name, realm, password)
        values = {
            "skills": json.dumps(sorted(set(skills))),
            "level": level,
            "sip_domain": realm,
            "ha1": a,
            "ha1b": b,
        }
        with write_tx(self.engine) as conn:
            if conn.execute(select(agents.c.name).where(agents.c.name == name)).first():
                conn.execute(update(agents).where(agents.c.name == name).values(**values))
            else:
                conn.execute(insert(agents).values(name=name, since=time.time(), **values))

    def get(self, name: str) -> Agent | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(agents).where(agents.c.name == name)).first()
        return agent_from_row(row) if row else None

    def list(self) -> list[Agent]:
        with self.engine.connect() as conn:
            return [agent_from_row(r) for r in conn.execute(select(agents).order_by(agents.c.name))]

    def set_state(self, name: str, state: AgentState, reason: str = "") -> Agent:
        """An agent's own change (available, away with a reason, logged out); not while a call
        rings or is on: that state follows the call."""
        if state not in SETTABLE:
            raise UserError(f"an agent sets themselves {', '.join(SETTABLE)}; {state} follows the calls")
        with write_tx(self.engine) as conn:
            row = conn.execute(select(agents).where(agents.c.name == name)).first()
            if row is None:
                raise UserError(f"no agent {name!r}")
            if row.state in (AgentState.RINGING, AgentState.ON_CALL):
                raise UserError(f"{name} is {row.state}: the state changes when the call ends")
            conn.execute(
                update(agents)
                .where(agents.c.name == name)
                .values(
                    state=str(state),
                    since=time.time(),
                    reason=reason if state is AgentState.AWAY else "",
                    missed=0,
                )
            )
        agent = self.get(name)
        assert agent is not None
        return agent

    def phone_state(self, name: str, working: bool, why: str = "") -> Agent | None:
        """The agent's browser phone says whether it can take a call. Lost (no registration, no
        microphone): an available agent goes away with the reason "phone: <why>", so the ACD
        offers them nothing. Back: an agent the phone put away is available again. Any other
        state is the agent's own or the call's, and stays."""
        reason = f"{PHONE_REASON}{why}"[:200]
        with write_tx(self.engine) as conn:
            row = conn.execute(select(agents).where(agents.c.name == name)).first()
            if row is None:
                return None
            if not working and row.state == AgentState.AVAILABLE:
                values = {"state": str(AgentState.AWAY), "reason": reason}
            elif working and row.state == AgentState.AWAY and row.reason.startswith(PHONE_REASON):
                values = {"state": str(AgentState.AVAILABLE), "reason": ""}
            elif not working and row.state == AgentState.AWAY and row.reason.startswith(PHONE_REASON):
                values = {"reason": reason}  # still lost, maybe for another reason
            else:
                values = {}
            if values:
                conn.execute(update(agents).where(agents.c.name == name).values(since=time.time(), **values))
        return self.get(name)
