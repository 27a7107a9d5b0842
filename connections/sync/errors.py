class JobError(Exception):
    """A job failed in a way the user can act on: `remedy` says what to do, in plain words."""

    def __init__(self, message, remedy=""):
        super().__init__(message)
        self.message = message
        self.remedy = remedy


class RunStopped(Exception):
    """The run must stop now: cancelled, its connection disconnected, or taken over."""

    def __init__(self, reason, *, taken_over=False):
        super().__init__(reason)
        self.reason = reason
        self.taken_over = taken_over
