"""The audit trail: who did what to which thing, when, from where. Append-only.

On PostgreSQL a trigger (migrations 0002, 0009) makes the database itself refuse UPDATE,
DELETE and TRUNCATE on these rows, so not even a bug or a shell session can rewrite history.
Each event also carries a keyed hash chaining it to the previous event of its organization
(tenants/audit_chain.py): someone who gets past the trigger, or inserts a back-dated row, is
found by `manage.py audit verify`. For the
same reason nothing here cascades: rows point at their organization and actor with
PROTECT, and at their target only by type, id and a label.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .organizations import Organization


class AuditAction(models.TextChoices):
    # organizations and people
    ORGANIZATION_CREATED = "organization.created", "Organization created"
    ORGANIZATION_RENAMED = "organization.renamed", "Organization renamed"
    MEMBER_LEFT = "member.left", "Member left the organization"
    ORGANIZATION_REMOVED = "organization.removed", "Organization removed"
    MEMBER_INVITED = "member.invited", "Member invited"
    INVITATION_REVOKED = "invitation.revoked", "Invitation revoked"
    INVITATION_ACCEPTED = "invitation.accepted", "Invitation accepted"
    MEMBER_ROLE_CHANGED = "member.role_changed", "Member role changed"
    MEMBER_REMOVED = "member.removed", "Member removed"
    # the external installs
    SITE_REGISTERED = "site.registered", "Atlassian site registered"
    SITE_REMOVED = "site.removed", "Atlassian site removed"
    SITE_UPDATED = "site.updated", "Atlassian site changed"
    SITE_AUTHORIZATION_STARTED = "site.authorization_started", "Atlassian authorization started"
    SITE_AUTHORIZED = "site.authorized", "Atlassian site authorized (OAuth 2.0)"
    SITE_API_TOKEN_SAVED = "site.api_token_saved", "Atlassian API token saved"
    SITE_AUTHORIZATION_DECLINED = "site.authorization_declined", "Atlassian authorization declined"
    SITE_AUTHORIZATION_FAILED = "site.authorization_failed", "Atlassian authorization failed"
    SITE_CALLBACK_REJECTED = "site.callback_rejected", "Atlassian callback rejected"
    SITE_NEEDS_REAUTH = "site.needs_reauthorization", "Atlassian site needs re-authorization"
    TENANT_REGISTERED = "tenant.registered", "Microsoft tenant registered"
    TENANT_REMOVED = "tenant.removed", "Microsoft tenant removed"
    TENANT_UPDATED = "tenant.updated", "Microsoft tenant changed"
    TENANT_DOMAINS_READ = "tenant.domains_read", "Microsoft tenant's verified domains read"
    # connections
    CONNECTION_CREATED = "connection.created", "Connection created"
    CONNECTION_REMOVED = "connection.removed", "Connection removed"
    CONNECTION_FEATURES_CHANGED = "connection.features_changed", "Connection features changed"
    CONNECTION_VERIFIED = "connection.verified", "Connection's grants checked"
    # consent (Microsoft)
    CONSENT_LINK_CREATED = "consent.link_created", "Consent link created"
    CONSENT_LINK_OPENED = "consent.link_opened", "Consent link opened"
    CONSENT_LINK_REVOKED = "consent.link_revoked", "Consent link withdrawn"
    CONSENT_LINK_SENT = "consent.link_sent", "Consent link sent by email"
    CONSENT_STARTED = "consent.started", "Consent sign-in started"
    CONSENT_GRANTED = "consent.granted", "Consent granted"
    CONSENT_DECLINED = "consent.declined", "Consent declined"
    CONSENT_FAILED = "consent.failed", "Consent failed"
    CONSENT_CALLBACK_REJECTED = "consent.callback_rejected", "Consent callback rejected"
    # health checks
    HEALTH_CHECKS_REQUESTED = "health.checks_requested", "Health checks requested"
    HEALTH_CHECKS_RAN = "health.checks_ran", "Health checks ran"

    # projects, disconnect and reconnect
    CONNECTION_DISCONNECTED = "connection.disconnected", "Connection disconnected"
    CONNECTION_RECONNECTED = "connection.reconnected", "Connection reconnected"
    TENANT_DISCONNECTED = "tenant.disconnected", "Microsoft tenant disconnected from all sites"
    SITE_DISCONNECTED = "site.disconnected", "Atlassian site disconnected from all tenants"
    PROJECTS_REFRESHED = "connection.projects_refreshed", "Service projects refreshed from Jira"
    PROJECT_TEAMS_SWITCHED = "connection.project_teams_switched", "Teams switched for a service project"

    # sync runs
    SYNC_RUN_STARTED = "sync.run_started", "Sync run started"
    SYNC_RUN_CANCELLED = "sync.run_cancelled", "Sync run cancelled"
    SYNC_RUN_RETRIED = "sync.run_retried", "Sync run retried"
    SYNC_RUN_FINISHED = "sync.run_finished", "Sync run finished"

    # sync: user matching
    USER_MATCHING_SETTINGS_CHANGED = "user_matching.settings_changed", "User matching identity mode changed"
    USER_MAPPING_SET = "user_matching.mapping_set", "Manual user mapping set"
    USER_MAPPING_CLEARED = "user_matching.mapping_cleared", "Manual user mapping removed"
    USER_MAPPING_EXPORTED = "user_matching.exported", "User mapping exported (CSV)"
    EMAIL_STORAGE_CHANGED = "organization.email_storage_changed", "Email storage for user matching changed"

    # sync: Teams directory and channel messages
    SYNC_SCHEDULE_CHANGED = "sync.schedule_changed", "Sync schedule changed"

    # incident chats and meetings, and the organization's API keys
    INCIDENT_CHAT_CREATED = "chatops.chat_created", "Teams chat created for an incident"
    INCIDENT_CHAT_FAILED = "chatops.chat_failed", "Teams chat for an incident not created"
    INCIDENT_CHAT_MEMBERS_ADDED = "chatops.members_added", "Responders added to an incident's Teams chat"
    INCIDENT_MEETING_STARTED = "chatops.meeting_started", "Teams meeting started for an incident"
    INCIDENT_MEETING_FAILED = "chatops.meeting_failed", "Teams meeting for an incident not started"
    INCIDENT_NOTE_ADDED = "chatops.note_added", "Teams chat message added to an incident as an internal note"
    API_KEY_CREATED = "api_key.created", "API key created"
    API_KEY_REVOKED = "api_key.revoked", "API key revoked"
    API_KEY_REFUSED = "api_key.refused", "Call with a revoked API key refused"
    # Teams notifications
    NOTIFICATION_TARGET_SET = "notifications.target_set", "Teams channel chosen for notifications"
    NOTIFICATION_TARGET_CLEARED = "notifications.target_cleared", "Teams notifications switched off"
    NOTIFICATION_WEBHOOK_REGISTERED = "notifications.webhook_registered", "Jira webhook registered"
    NOTIFICATION_WEBHOOK_REFRESHED = "notifications.webhook_refreshed", "Jira webhook refreshed"
    NOTIFICATION_WEBHOOK_REFUSED = "notifications.webhook_refused", "Jira webhook delivery refused"
    NOTIFICATION_DELIVERY_FAILED = "notifications.delivery_failed", "Teams notification could not be delivered"
    # Confluence in Microsoft Search
    SEARCH_SETTINGS_SAVED = "search.settings_saved", "Microsoft Search setting saved"
    SEARCH_PUBLISHED = "search.published", "Microsoft Search connection published"
    SEARCH_DISCONNECTED = "search.disconnected", "Microsoft Search connection disconnected"
    # Intune app protection for Atlassian's mobile apps
    INTUNE_ORG_REGISTERED = "intune.org_registered", "Atlassian organization registered"
    INTUNE_ORG_KEY_SAVED = "intune.org_key_saved", "Atlassian organization API key saved"
    INTUNE_ORG_REMOVED = "intune.org_removed", "Atlassian organization removed"
    INTUNE_ORG_CHECKED = "intune.org_checked", "Atlassian organization's domains, tenants and consent checked"
    INTUNE_STEP_CONFIRMED = "intune.step_confirmed", "Intune setup step confirmed by an admin"
    INTUNE_STEP_UNCONFIRMED = "intune.step_unconfirmed", "Intune setup step confirmation withdrawn"
    INTUNE_CONSENT_LINK_CREATED = "intune.consent_link_created", "Consent link for an Atlassian app created"
    INTUNE_CONSENT_LINK_OPENED = "intune.consent_link_opened", "Consent link for an Atlassian app opened"
    INTUNE_CONSENT_LINK_USED = "intune.consent_link_used", "Consent link for an Atlassian app used"
    INTUNE_CONSENT_LINK_REVOKED = "intune.consent_link_revoked", "Consent link for an Atlassian app withdrawn"
    INTUNE_POLICY_CREATED = "intune.policy_created", "Mobile app policy created"
    INTUNE_POLICY_UPDATED = "intune.policy_updated", "Mobile app policy changed"
    INTUNE_POLICY_ASSIGNED = "intune.policy_assigned", "Mobile app policy assigned to groups"
    INTUNE_POLICY_DELETED = "intune.policy_deleted", "Mobile app policy deleted"

    # support staff
    SUPPORT_VIEWED = "support.viewed", "Viewed by support"
    SUPPORT_ACCESS_OPENED = "support.access_opened", "Support access opened (with a reason)"

    # the trail itself
    AUDIT_EXPORTED = "audit.exported", "Audit trail exported"
    AUDIT_CHAIN_BROKEN = "audit.chain_broken", "Audit trail's hash chain found broken"
    AUDIT_RETENTION_PURGED = "audit.retention_purged", "A removed organization's audit trail deleted after retention"


class ActorType(models.TextChoices):
    USER = "user", "Portal user"
    EXTERNAL = "external", "External principal"
    SYSTEM = "system", "System"


class AuditEvent(models.Model):
    # Null for support looks that span organizations (the organization list).
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Who acted, in words, kept even for external principals (a tenant admin's name and UPN).
    actor_label = models.CharField(max_length=255)
    # One of AuditAction (checked by audit_record). Not a DB-level `choices`: the vocabulary
    # grows with each feature, and a new action should not need a migration.
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The hash chain (tenants/audit_chain.py): this event's place in its organization's chain
    # (events without an organization form one chain of their own), the previous event's hash,
    # and HMAC-SHA256 under the key `chain_key_id` of this event's canonical JSON with it.
    chain_seq = models.PositiveBigIntegerField(null=True, blank=True)
    # db_default: a row inserted past the portal is stored, outside the chain, and found by verify.
    chain_prev = models.CharField(max_length=64, blank=True, default="", db_default="")
    chain_hash = models.CharField(max_length=64, blank=True, default="", db_default="")
    chain_key_id = models.CharField(max_length=32, blank=True, default="", db_default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The trail's pages, newest first, paged by (created_at, id) from a neighbouring event.
            models.Index(fields=["organization", "-created_at", "-id"], name="audit_org_time_id"),
            # One thing's own trail (a connection's page).
            models.Index(fields=["organization", "target_type", "target_id", "-created_at"], name="audit_org_target"),
        ]
        # Also, on PostgreSQL only, a trigram index for the actor filter's substring search
        # (migration 0012).
        # No two events claim the same place, hence the same predecessor, in one chain.
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "chain_seq"], condition=models.Q(organization__isnull=False),
                name="audit_chain_seq_unique_per_org",
            ),
            models.UniqueConstraint(
                fields=["chain_seq"], condition=models.Q(organization__isnull=True),
                name="audit_chain_seq_unique_global",
            ),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target_label}"

    def get_action_display(self):
        try:
            return AuditAction(self.action).label
        except ValueError:
            return self.action


class AuditChainHead(models.Model):
    """The last link of one chain. Locked (SELECT ... FOR UPDATE) by each writer, so events of
    one organization are chained one after the other even when written at the same moment."""

    # "org:<id>", or "global" for the events without an organization.
    scope = models.CharField(max_length=40, unique=True)
    organization = models.OneToOneField(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_chain_head"
    )
    seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True)

    def __str__(self):
        return f"{self.scope} at {self.seq}"


class AuditChainCheck(models.Model):
    """The latest verification of one chain (`manage.py audit verify`, the beat)."""

    scope = models.CharField(max_length=40, unique=True)
    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="audit_chain_check"
    )
    checked_at = models.DateTimeField(default=timezone.now)
    events_checked = models.PositiveBigIntegerField(default=0)
    # When the last event that verified was written: "chain verified up to <time>".
    verified_up_to = models.DateTimeField(null=True, blank=True)
    broken_seq = models.PositiveBigIntegerField(null=True, blank=True)
    broken_event_id = models.BigIntegerField(null=True, blank=True)
    problem = models.CharField(max_length=300, blank=True)

    def __str__(self):
        return f"{self.scope}: {'broken' if self.problem else 'verified'} at {self.checked_at:%Y-%m-%d %H:%M}"

    @property
    def is_broken(self):
        return bool(self.problem)
