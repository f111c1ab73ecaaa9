"""The database wing's plumbing: connections, the sql/ loader, the master target, SCRAM verifiers
and the lock-holder watch; every other room of the wing stands on it."""
