"""The connections app's models, one module per area.

core: Connection, grants, credentials, consent requests.
health: feature health checks. projects: per-project switches (JSM).
sync: sync runs, schedules and what they keep.
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

# health checks
from .health import HealthCheckResult  # noqa: F401

# projects and disconnect
from .projects import ConnectionProject  # noqa: F401
# sync runs
from .sync import SyncRun  # noqa: F401

# sync: user matching
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

# sync: Teams directory and channel messages
from .schedules import SyncSchedule  # noqa: F401,E402
from .teams import TeamsChannel, TeamsMessage, TeamsTeam  # noqa: F401,E402

# incident chats and meetings, and the organization's API keys
from .chatops import (  # noqa: F401,E402
    ActingAs,
    ChatopsState,
    IncidentChat,
    IncidentMeeting,
    OrganizationApiKey,
)

# Teams notifications
from .notifications import NotificationDelivery, NotificationTarget, WebhookRegistration  # noqa: F401,E402

# Confluence in Microsoft Search
from .search import (  # noqa: F401,E402
    ALWAYS_ON,
    SEARCH_PROPERTIES,
    IndexedItem,
    PushedGroup,
    SearchConnection,
    SkippedItem,
    UnmappedPrincipal,
)

# Intune app protection for Atlassian's mobile apps
from .intune import (  # noqa: F401,E402
    AppConsentLink,
    AtlassianApp,
    AtlassianAppConsent,
    AtlassianOrganization,
    ManualStep,
    ManualStepConfirmation,
    MobileAppPolicy,
    OrganizationDomain,
    PolicyDeployment,
    TenantState,
)
