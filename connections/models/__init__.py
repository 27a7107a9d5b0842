"""The connections app's models, one module per area.

core: Connection, grants, credentials, consent requests (issues 4 and 5).
health: feature health checks. projects: per-project switches (JSM).
sync: sync runs, schedules and what they keep (issue 7).
"""
# ruff: noqa: I001 - one import block per area, so parallel work does not collide

from .core import (  # noqa: F401
    Connection,
    ConsentRequest,
    Credential,
    PermissionGrant,
    PermissionKind,
    Provider,
)

# health checks (issue 6, helper A)
from .health import HealthCheckResult  # noqa: F401

# projects and disconnect (issue 6, helper B)
from .projects import ConnectionProject  # noqa: F401
# sync runs (issue 7)
from .sync import SyncRun  # noqa: F401

# sync: user matching (issue 7, helper D)
from .matching import (  # noqa: F401
    IdentityMode,
    ManualMapping,
    MatchMethod,
    MatchOutcome,
    MicrosoftUserKey,
    OrganizationMatchingSettings,
    UserMatch,
    UserMatchingState,
)

# sync: Teams directory and channel messages (issue 7, helper C)
from .schedules import SyncSchedule  # noqa: F401,E402
from .teams import TeamsChannel, TeamsMessage, TeamsTeam  # noqa: F401,E402
