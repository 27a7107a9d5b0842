class JobError(Exception):
    """A job failed in a way the user can act on: `remedy` says what to do, in plain words.

    `transient`: the provider was unavailable or busy (5xx, 429, no answer), nothing a person
    must fix; the beat retries such a run from its checkpoint by itself (SYNC_AUTO_RETRIES)."""

    def __init__(self, message, remedy="", *, transient=False):
        super().__init__(message)
        self.message = message
        self.remedy = remedy
        self.transient = transient


class RunStopped(Exception):
    """The run must stop now: cancelled, its connection disconnected, or taken over."""

    def __init__(self, reason, *, taken_over=False):
        super().__init__(reason)
        self.reason = reason
        self.taken_over = taken_over


class RunWaits(Exception):
    """The run needs another run of its connection to end first (the job it depends on).

    The runner puts it back in the queue, still active (so no second run of its kind starts
    meanwhile), with its checkpoint and the run it waits for; that run's end wakes it."""

    def __init__(self, run_id, reason):
        super().__init__(reason)
        self.run_id = run_id
        self.reason = reason


# The checkpoint key under which a waiting run names the run it waits for (see RunWaits).
WAITING_FOR = "waiting_for_run"
