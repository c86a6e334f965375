-- An agent's last push (`GET /api/v1/agents`, `Agent.last_push_at`) is the
-- newest commit of its snapshots: read from this index, not by scanning
-- every snapshot of its job. Keep in step with the other engine's 0012.
CREATE INDEX snapshots_agent_committed ON snapshots (job_id, agent_id, committed_at);
