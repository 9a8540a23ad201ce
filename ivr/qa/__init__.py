"""Quality assurance of every call: after a call ends it is screened for what went wrong (named
flags with evidence and weights, a risk score), the riskiest share of each day (plus a small
random share) goes to a review queue, and supervisors review on the admin's form; where the
reviewer and the AI disagree is kept and shown."""
