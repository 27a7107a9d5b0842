"""State of the simulated Atlassian Cloud: sites, accounts, the portal's OAuth app, grants and
tokens, and the Confluence/Jira content the APIs serve. Kept in the database so the web
process and Celery workers see the same grants and tokens."""

from django.db import models


class Site(models.Model):
    name = models.CharField(max_length=100, unique=True)  # {name}.atlassian.net
    cloud_id = models.CharField(max_length=36, unique=True)
    # e.g. ["jira-software", "confluence"] or ["jira-servicedesk"]
    products = models.JSONField(default=list)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def has_confluence(self):
        return "confluence" in self.products

    @property
    def has_jira(self):
        return any(p.startswith("jira") for p in self.products)


class Account(models.Model):
    """An Atlassian account. Emails are not unique: two accounts may share one (real case)."""

    account_id = models.CharField(max_length=128, unique=True)  # keyset paging column
    email = models.CharField(max_length=254, db_index=True)
    email_visible = models.BooleanField(default=True)  # profile privacy: hidden from user search
    display_name = models.CharField(max_length=200)
    # The profile's time zone: Confluence reads CQL date literals in the caller's time zone.
    # Reference: https://developer.atlassian.com/cloud/confluence/cql-fields/#last-modified
    time_zone = models.CharField(max_length=64, default="UTC")
    active = models.BooleanField(default=True)
    account_type = models.CharField(max_length=20, default="atlassian")  # or "app", "customer"
    password = models.CharField(max_length=128, blank=True)  # sandbox sign-in only, plain on purpose
    sites = models.ManyToManyField(Site, related_name="accounts", blank=True)
    admin_of = models.ManyToManyField(Site, related_name="admins", blank=True)

    class Meta:
        ordering = ["account_id"]

    def __str__(self):
        return self.display_name


class ApiToken(models.Model):
    """Basic auth credential (email + token). Kept readable: `sandbox info` prints it."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_tokens")
    label = models.CharField(max_length=100, default="sandbox")
    token = models.CharField(max_length=200, unique=True)


class App(models.Model):
    """An OAuth 2.0 (3LO) app registration; redirect URIs match exactly, no wildcards."""

    client_id = models.CharField(max_length=100, unique=True)
    client_secret = models.CharField(max_length=200)
    name = models.CharField(max_length=200)
    redirect_uris = models.JSONField(default=list)


class Grant(models.Model):
    """What one account allowed one app: scopes and the sites covered (consent accumulates)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="grants")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="grants")
    scopes = models.JSONField(default=list)
    sites = models.ManyToManyField(Site, related_name="grants")
    revoked = models.BooleanField(default=False)

    class Meta:
        unique_together = [("account", "app")]


class AuthCode(models.Model):
    code_hash = models.CharField(max_length=64, unique=True)
    grant = models.ForeignKey(Grant, on_delete=models.CASCADE)
    redirect_uri = models.TextField()
    scopes = models.JSONField(default=list)
    expires_at = models.FloatField()
    used = models.BooleanField(default=False)


class AccessToken(models.Model):
    """Opaque bearer token, stored as a SHA-256 hash."""

    token_hash = models.CharField(max_length=64, unique=True)
    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="access_tokens")
    scopes = models.JSONField(default=list)
    expires_at = models.FloatField()


class RefreshToken(models.Model):
    """Rotating: a refresh marks this one used and issues the next one of its family (see
    oauth_views.token for the reuse interval, the family's revocation and the expiries)."""

    token_hash = models.CharField(max_length=64, unique=True)
    grant = models.ForeignKey(Grant, on_delete=models.CASCADE, related_name="refresh_tokens")
    scopes = models.JSONField(default=list)
    used = models.BooleanField(default=False)
    created_at = models.FloatField()  # sandbox.clock time
    # The tokens descending from one authorization code: revoked together on a replay.
    family = models.CharField(max_length=36, db_index=True, default="")
    family_started_at = models.FloatField(default=0)  # when the code was exchanged (365-day expiry)
    used_at = models.FloatField(null=True, blank=True)
    revoked = models.BooleanField(default=False)


class Space(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="spaces")
    space_id = models.BigIntegerField(unique=True)
    key = models.CharField(max_length=50)
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=20, default="global")
    anonymous_access = models.BooleanField(default=False)

    class Meta:
        ordering = ["space_id"]


class SpacePermission(models.Model):
    perm_id = models.BigIntegerField(unique=True)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="permissions")
    principal_type = models.CharField(max_length=20)  # user | group | role | anonymous
    principal_id = models.CharField(max_length=128, blank=True)
    operation = models.CharField(max_length=30, default="read")  # read | create | delete ...
    target_type = models.CharField(max_length=30, default="space")

    class Meta:
        ordering = ["perm_id"]


class Page(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="pages")
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="pages")
    page_id = models.BigIntegerField(unique=True)
    type = models.CharField(max_length=20, default="page")  # page | blogpost
    # The page tree: a page's read restrictions also hide every page below it.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    status = models.CharField(max_length=20, default="current")  # current | archived | trashed | deleted
    title = models.CharField(max_length=255)
    body = models.TextField(default="")  # storage format
    author_id = models.CharField(max_length=128)
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()
    version = models.IntegerField(default=1)

    class Meta:
        ordering = ["page_id"]
        indexes = [models.Index(fields=["site", "modified_at"], name="atl_page_site_modified")]


class PageRestriction(models.Model):
    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="restrictions")
    operation = models.CharField(max_length=10)  # read | update
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE)
    group = models.CharField(max_length=100, blank=True)


class Group(models.Model):
    """A Confluence group of a site; `group_id` is the UUID the APIs name it by."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="groups")
    group_id = models.CharField(max_length=36, unique=True)
    name = models.CharField(max_length=255)
    members = models.ManyToManyField(Account, related_name="confluence_groups", blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="atl_group_unique_name")]


class Project(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="projects")
    project_id = models.BigIntegerField(unique=True)
    key = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    project_type_key = models.CharField(max_length=30)  # software | service_desk | business

    class Meta:
        ordering = ["project_id"]


# --- Jira Service Management requests (incidents): responders and comments ------------------


class Issue(models.Model):
    """A Jira issue; in a service project, a customer request (an incident here).
    Reference: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/"""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="issues")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="issues")
    issue_id = models.BigIntegerField(unique=True)
    key = models.CharField(max_length=40)
    summary = models.CharField(max_length=255)
    issue_type = models.CharField(max_length=50, default="Incident")
    status = models.CharField(max_length=50, default="Open")
    status_category = models.CharField(max_length=20, default="new")  # new | indeterminate | done
    priority = models.CharField(max_length=20, default="High")
    assignee = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reporter = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    watchers = models.ManyToManyField(Account, related_name="watching", blank=True)
    participants = models.ManyToManyField(Account, related_name="participating", blank=True)
    created = models.DateTimeField()

    class Meta:
        ordering = ["issue_id"]


class IssueComment(models.Model):
    """A comment on a request: public (the customer sees it) or internal (agents only).
    Reference: https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-request/#api-rest-servicedeskapi-request-issueidorkey-comment-post"""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="comments")
    comment_id = models.BigIntegerField(unique=True)
    author = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    body = models.TextField()
    public = models.BooleanField()
    created = models.DateTimeField()

    class Meta:
        ordering = ["comment_id"]


class ProjectAgent(models.Model):
    """An agent of a service project (has a Jira Service Management licence there): agents may
    add internal comments; customers only public ones."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="agents")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "account"], name="sbx_atl_agent_unique")]


class DynamicWebhook(models.Model):
    """A webhook an OAuth 2.0 (3LO) app registered through Jira's REST API: which events, for
    which issues (a JQL filter), sent where; it lapses 30 days after registration or refresh.
    Reference: https://developer.atlassian.com/cloud/jira/platform/webhooks/#registering-a-webhook-using-the-rest-api--for-connect-and-oauth-2-0-apps-"""

    webhook_id = models.BigIntegerField(unique=True)
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="dynamic_webhooks")
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="dynamic_webhooks")
    # Who registered it: Jira sends only what this account may see.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="dynamic_webhooks")
    url = models.URLField(max_length=1000)
    jql_filter = models.CharField(max_length=1000)
    events = models.JSONField(default=list)
    field_ids_filter = models.JSONField(default=list, blank=True)
    expires_at = models.FloatField()  # sandbox.clock time
    last_delivery = models.CharField(max_length=200, blank=True)  # what the last delivery got back

    class Meta:
        ordering = ["webhook_id"]
# --- Atlassian Administration (organizations, their domains, organization API keys) -------------


class AdminOrg(models.Model):
    """An Atlassian organization (admin.atlassian.com)."""

    id = models.CharField(max_length=64, primary_key=True)
    name = models.CharField(max_length=200)
    # Atlassian Guard (formerly Access): the mobile app policies of the organization need it.
    guard_subscription = models.BooleanField(default=True)

    def __str__(self):
        return self.name


class AdminDomain(models.Model):
    """A domain the organization claimed, with its verification (claim) status."""

    id = models.CharField(max_length=64, primary_key=True)
    org = models.ForeignKey(AdminOrg, on_delete=models.CASCADE, related_name="domains")
    name = models.CharField(max_length=253)
    claim_type = models.CharField(max_length=10, default="dns")  # http | dns
    # verified | unverified | superseded | missing_token | deleted
    claim_status = models.CharField(max_length=20, default="verified")
    position = models.IntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.name


class AdminApiKey(models.Model):
    """An organization API key (Bearer): it belongs to one organization and expires."""

    key_hash = models.CharField(max_length=64, primary_key=True)
    org = models.ForeignKey(AdminOrg, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200)
    # Empty: a key without scopes (every admin API); else e.g. ["read:domains:admin"].
    scopes = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField()
    secret = models.CharField(max_length=200, blank=True)  # sandbox only: the demo's key, printed by `sandbox info`
    # The rate-limit window this key is in (sandbox clock, seconds) and the requests made in it.
    window_start = models.BigIntegerField(default=0)
    window_used = models.IntegerField(default=0)

    def __str__(self):
        return f"{self.name} ({self.org_id})"
