"""The simulated Microsoft side: tenants and their directories, app registrations, grants,
signing keys, codes and refresh tokens, and the Teams data Graph serves."""

import uuid

from django.db import models
from django.db.models.functions import Upper


class Tenant(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    display_name = models.CharField(max_length=200)
    # Highest change number handed out in this directory (users/delta keys on it).
    change_seq = models.BigIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.display_name} ({self.id})"

    @property
    def initial_domain(self):
        return self.domains.filter(is_initial=True).first()


class Domain(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="domains")
    name = models.CharField(max_length=253, unique=True)  # stored lowercase
    is_verified = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False)
    is_initial = models.BooleanField(default=False)

    def __str__(self):
        return self.name


class DirectoryUser(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)  # the object id (oid)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="users")
    user_principal_name = models.CharField(max_length=300)
    mail = models.CharField(max_length=300, null=True, blank=True)
    display_name = models.CharField(max_length=200)
    given_name = models.CharField(max_length=100, null=True, blank=True)
    surname = models.CharField(max_length=100, null=True, blank=True)
    job_title = models.CharField(max_length=100, null=True, blank=True)
    # Exchange addresses: "SMTP:" marks the primary one, "smtp:" the aliases.
    proxy_addresses = models.JSONField(default=list, blank=True)
    user_type = models.CharField(max_length=10, default="Member")  # Member / Guest
    account_enabled = models.BooleanField(default=True)
    is_admin = models.BooleanField(default=False)  # shorthand for the Global Administrator role
    # Other directory roles by template id (sandbox.microsoft.roles), e.g. Application Administrator.
    directory_roles = models.JSONField(default=list, blank=True)
    password = models.CharField(max_length=100)  # sandbox only: printed by `sandbox info`
    deleted = models.BooleanField(default=False)  # soft-deleted: gone from lists, @removed in delta
    purged = models.BooleanField(default=False)  # permanently deleted: delta says reason "deleted"
    change_seq = models.BigIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # Keyset paging of /users and /users/delta: never an OFFSET scan.
            models.Index(fields=["tenant", "id"], name="sbx_ms_user_page"),
            models.Index(fields=["tenant", "change_seq"], name="sbx_ms_user_delta"),
            models.Index(Upper("user_principal_name"), name="sbx_ms_user_upn"),
            models.Index(Upper("mail"), name="sbx_ms_user_mail"),
        ]

    def __str__(self):
        return self.user_principal_name


class App(models.Model):
    """An app registration (multi-tenant) with its statically configured permissions."""

    client_id = models.CharField(max_length=64, primary_key=True)
    display_name = models.CharField(max_length=200)
    client_secret = models.CharField(max_length=200)
    application_permissions = models.JSONField(default=list)
    delegated_scopes = models.JSONField(default=list)
    multi_tenant = models.BooleanField(default=True)
    # The manifest's groupMembershipClaims: "DirectoryRole" or "All" put `wids` into user tokens.
    group_membership_claims = models.CharField(max_length=32, default="None")

    def __str__(self):
        return self.display_name


class RedirectUri(models.Model):
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="redirect_uris")
    uri = models.CharField(max_length=1000)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "uri"], name="sbx_ms_redirect_unique")]

    def __str__(self):
        return self.uri


class ServicePrincipal(models.Model):
    """The app's presence in a tenant, created by the first consent; holds app-role grants."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="service_principals")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="service_principals")
    application_permissions = models.JSONField(default=list)  # granted app roles
    granted_by = models.ForeignKey(DirectoryUser, null=True, blank=True, on_delete=models.SET_NULL)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "app"], name="sbx_ms_sp_unique")]

    def __str__(self):
        return f"{self.app_id} in {self.tenant_id}"


class DelegatedGrant(models.Model):
    """An oauth2PermissionGrant: delegated scopes for all users (principal None) or one user."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    service_principal = models.ForeignKey(ServicePrincipal, on_delete=models.CASCADE, related_name="grants")
    principal = models.ForeignKey(DirectoryUser, null=True, blank=True, on_delete=models.CASCADE)
    scopes = models.JSONField(default=list)
    granted_by = models.ForeignKey(DirectoryUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{' '.join(self.scopes)} for {self.principal_id or 'AllPrincipals'}"


class SigningKey(models.Model):
    kid = models.CharField(max_length=64, primary_key=True)
    private_pem = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.kid


class AuthorizationCode(models.Model):
    code_hash = models.CharField(max_length=64, primary_key=True)  # sha256 of the code
    app = models.ForeignKey(App, on_delete=models.CASCADE)
    user = models.ForeignKey(DirectoryUser, on_delete=models.CASCADE)
    redirect_uri = models.CharField(max_length=1000)
    scopes = models.JSONField(default=list)  # Graph scopes plus OIDC ones (openid, offline_access ...)
    nonce = models.CharField(max_length=500, blank=True)
    code_challenge = models.CharField(max_length=200, blank=True)
    code_challenge_method = models.CharField(max_length=10, blank=True)
    expires_at = models.DateTimeField()
    redeemed_at = models.DateTimeField(null=True, blank=True)


class RefreshToken(models.Model):
    token_hash = models.CharField(max_length=64, primary_key=True)
    app = models.ForeignKey(App, on_delete=models.CASCADE)
    user = models.ForeignKey(DirectoryUser, on_delete=models.CASCADE)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField()
    created = models.DateTimeField(auto_now_add=True)


class Team(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)  # the group id
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="teams")
    display_name = models.CharField(max_length=200)
    description = models.CharField(max_length=500, blank=True)
    members = models.ManyToManyField(DirectoryUser, related_name="teams", blank=True)

    def __str__(self):
        return self.display_name


class Channel(models.Model):
    id = models.CharField(max_length=200, primary_key=True)  # "19:...@thread.tacv2"
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="channels")
    display_name = models.CharField(max_length=200)
    description = models.CharField(max_length=500, blank=True)
    membership_type = models.CharField(max_length=20, default="standard")
    created = models.DateTimeField()

    def __str__(self):
        return self.display_name


class ChannelMessage(models.Model):
    id = models.CharField(max_length=40, primary_key=True)  # digits, like Teams' ids
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="messages")
    created = models.DateTimeField()
    from_user = models.ForeignKey(DirectoryUser, null=True, on_delete=models.SET_NULL)
    content = models.TextField()
    mentions = models.JSONField(default=list)  # [user id, ...]
    reply_to_id = models.CharField(max_length=40, null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["channel", "id"], name="sbx_ms_msg_page")]


class Chat(models.Model):
    id = models.CharField(max_length=200, primary_key=True)  # "19:...@thread.v2"
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="chats")
    chat_type = models.CharField(max_length=20)
    topic = models.CharField(max_length=250, null=True, blank=True)
    member_ids = models.JSONField(default=list)
    created_by_app = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True)


# --- incident chats: members, installed apps, the app catalog, online meetings ----------------


class ChatMember(models.Model):
    """One aadUserConversationMember of a chat (the membership id is what Location names).
    Reference: https://learn.microsoft.com/graph/api/resources/aaduserconversationmember"""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(DirectoryUser, on_delete=models.CASCADE, related_name="+")
    roles = models.JSONField(default=list)
    visible_history_start = models.CharField(max_length=40, blank=True)
    added_by_app = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chat", "user"], name="sbx_ms_chat_member_unique")]


class TeamsApp(models.Model):
    """An app in a tenant's Teams app catalog: `id` is the catalog id, `external_id` the id in
    the app's manifest. Reference: https://learn.microsoft.com/graph/api/resources/teamsapp"""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="teams_apps")
    external_id = models.CharField(max_length=64)
    display_name = models.CharField(max_length=200)
    # The Entra app of the manifest's webApplicationInfo (and bot): the app the "Self"
    # permissions let install it.
    azure_app_id = models.CharField(max_length=64, blank=True)
    distribution_method = models.CharField(max_length=20, default="organization")  # store / organization / sideloaded
    # The manifest asks for resource-specific consent: the "Self" permissions cannot install it.
    needs_rsc = models.BooleanField(default=False)


class ChatInstalledApp(models.Model):
    """A teamsAppInstallation in a chat. Reference: https://learn.microsoft.com/graph/api/chat-post-installedapps"""

    id = models.CharField(max_length=200, primary_key=True)
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="installed_apps")
    app = models.ForeignKey(TeamsApp, on_delete=models.CASCADE, related_name="+")
    installed_by_app = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chat", "app"], name="sbx_ms_chat_app_unique")]


class OnlineMeeting(models.Model):
    """A standalone online meeting (not on a calendar).
    Reference: https://learn.microsoft.com/graph/api/application-post-onlinemeetings"""

    id = models.CharField(max_length=200, primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="online_meetings")
    organizer = models.ForeignKey(DirectoryUser, on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(max_length=300, blank=True)
    start = models.CharField(max_length=40, blank=True)
    end = models.CharField(max_length=40, blank=True)
    attendee_ids = models.JSONField(default=list)
    join_web_url = models.CharField(max_length=500)
    thread_id = models.CharField(max_length=200)
    created_by_app = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True)


class ApplicationAccessPolicy(models.Model):
    """What `New-CsApplicationAccessPolicy` + `Grant-CsApplicationAccessPolicy` set up: the apps
    that may create meetings for a user (or, with no user, for everyone: `-Global`). A grant
    takes up to 30 minutes to apply (sandbox.clock time).
    Reference: https://learn.microsoft.com/graph/cloud-communication-online-meeting-application-access-policy"""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="access_policies")
    app_ids = models.JSONField(default=list)
    user = models.ForeignKey(DirectoryUser, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    granted_at = models.FloatField()  # sandbox.clock seconds


class UserInstalledApp(models.Model):
    """A teamsAppInstallation in a user's personal scope (the app's 1:1 bot chat).
    Reference: https://learn.microsoft.com/graph/api/userteamwork-post-installedapps"""

    id = models.CharField(max_length=200, primary_key=True)
    user = models.ForeignKey(DirectoryUser, on_delete=models.CASCADE, related_name="+")
    app = models.ForeignKey(TeamsApp, on_delete=models.CASCADE, related_name="+")
    installed_by_app = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "app"], name="sbx_ms_user_app_unique")]


from .bot_models import BotActivity, TeamAppInstallation  # noqa: E402,F401  (the connector's state)

# Microsoft Search (Graph connectors) lives in a module of its own.
from .search_models import (  # noqa: E402, F401
    ConnectionOperation,
    ExternalConnection,
    ExternalGroup,
    ExternalGroupMember,
    ExternalItem,
    SearchFaults,
)

# --- Intune app protection (deviceAppManagement) -------------------------------------------------


class IntuneLicence(models.Model):
    """Whether a tenant has an active Intune licence: Graph's Intune API answers only then.
    Reference: https://learn.microsoft.com/graph/api/resources/intune-mam-iosmanagedappprotection
    ("The Microsoft Graph API for Intune requires an active Intune license for the tenant.")"""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, primary_key=True, related_name="intune")
    licensed = models.BooleanField(default=False)

    def __str__(self):
        return f"Intune {'licensed' if self.licensed else 'unlicensed'} in {self.tenant_id}"


class ManagedAppProtection(models.Model):
    """An iosManagedAppProtection or androidManagedAppProtection of a tenant."""

    id = models.CharField(max_length=80, primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="app_protections")
    platform = models.CharField(max_length=10)  # "ios" or "android"
    display_name = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    # Every other property the resource documents, as Graph spells it.
    settings = models.JSONField(default=dict)
    # [{"@odata.type": "#microsoft.graph.iosMobileAppIdentifier", "bundleId": "..."}]
    apps = models.JSONField(default=list)
    app_group_type = models.CharField(max_length=40, default="selectedPublicApps")
    # [{"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "..."}]
    assignments = models.JSONField(default=list)
    version = models.IntegerField(default=1)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.platform} {self.display_name}"
