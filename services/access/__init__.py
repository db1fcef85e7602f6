"""Access: people (users, passwords, sessions), machines (API tokens), who may see what
(policy), failed sign-ins (rate limits) and the audit trail of every write."""
