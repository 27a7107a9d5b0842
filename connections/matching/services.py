"""State changes of user matching: identity mode, manual mappings, the email storage choice.
Each one audited in its own transaction."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tenants.audit import audit_record
from tenants.models import AuditAction, Organization, User

from ..models import (
    Connection,
    IdentityMode,
    ManualMapping,
    MicrosoftUserKey,
    OrganizationMatchingSettings,
    SyncRun,
    UserMatch,
    UserMatchingState,
)
from ..sync.services import sync_run_start
from . import keys
from .match import Index, Rule, decide


def matching_state(connection: Connection) -> UserMatchingState:
    state, _ = UserMatchingState.objects.get_or_create(connection=connection)
    return state


def _start_full_run(connection: Connection, acting_user: User | None) -> SyncRun | None:
    """Queue a full run when none is active (a new identity rule needs the emails again)."""
    if connection.status != connection.Status.ACTIVE:
        return None
    if SyncRun.objects.filter(
        connection=connection, kind=SyncRun.Kind.USER_MATCHING, state__in=[SyncRun.State.QUEUED, SyncRun.State.RUNNING]
    ).exists():
        return None
    try:
        return sync_run_start(
            connection=connection, kind=SyncRun.Kind.USER_MATCHING, mode=SyncRun.Mode.FULL, acting_user=acting_user
        )
    except ValidationError:
        return None


def identity_mode_set(
    *, connection: Connection, identity_mode: str, upn_pattern: str = "", upn_replacement: str = "",
    acting_user: User | None,
) -> SyncRun | None:
    """Change how an Atlassian email becomes a UPN; a full run applies it (emails are not kept,
    so only a fresh read of the site can derive the new UPNs). Returns the queued run or None.
    A rule the matcher refuses is never stored, whichever path calls this (ValidationError on
    the field at fault)."""
    if identity_mode == IdentityMode.NON_ENTRA:
        try:
            keys.compile_rule(upn_pattern, upn_replacement)
        except keys.RuleError as exc:
            raise ValidationError({exc.field: exc.message}) from None
    elif identity_mode != IdentityMode.ENTRA:
        raise ValidationError({"identity_mode": "Choose Entra or non-Entra."})
    else:
        upn_pattern = upn_replacement = ""
    with transaction.atomic():
        state = UserMatchingState.objects.select_for_update().get(pk=matching_state(connection).pk)
        before = {"identity_mode": state.identity_mode, "upn_pattern": state.upn_pattern}
        state.identity_mode, state.upn_pattern, state.upn_replacement = identity_mode, upn_pattern, upn_replacement
        state.save(update_fields=["identity_mode", "upn_pattern", "upn_replacement", "updated_at"])
        audit_record(
            organization=connection.organization,
            action=AuditAction.USER_MATCHING_SETTINGS_CHANGED,
            actor=acting_user,
            target=connection,
            details={
                "before": before,
                "after": {
                    "identity_mode": identity_mode,
                    "upn_pattern": upn_pattern,
                    "upn_replacement": upn_replacement,
                },
            },
        )
        return _start_full_run(connection, acting_user)


def microsoft_user_lookup(connection: Connection, value: str | None) -> str | None:
    """The Microsoft user id for an id or a UPN, from the directory the last run read; None if unknown."""
    value = (value or "").strip()
    if not value:
        return None
    rows = MicrosoftUserKey.objects.filter(connection=connection)
    if "@" in value:
        digest = keys.digest(keys.normalize(value))
        found = sorted(
            {
                uid
                for uid, kinds in rows.filter(digest=digest).values_list("user_id", "kinds")
                if kinds & MicrosoftUserKey.UPN
            }
        )
        return found[0] if len(found) == 1 else None
    return value.lower() if rows.filter(user_id=value.lower()).exists() else None


def manual_mapping_set(
    *, connection: Connection, account_id: str, microsoft_user: str, acting_user: User | None,
) -> str:
    """Say which Microsoft user (id or UPN from the last fetched directory) an account is."""
    match = UserMatch.objects.filter(connection=connection, account_id=account_id).first()
    if match is None:
        raise ValidationError({"account_id": "This Atlassian account is not among the site's accounts read so far."})
    user_id = microsoft_user_lookup(connection, microsoft_user)
    if user_id is None:
        raise ValidationError(
            {"microsoft_user": "No Microsoft user with this id or UPN was in the tenant's directory at the last run."}
        )
    with transaction.atomic():
        ManualMapping.objects.update_or_create(
            connection=connection,
            account_id=account_id,
            defaults={"microsoft_user_id": user_id, "created_by": acting_user, "created_at": timezone.now()},
        )
        UserMatch.objects.filter(pk=match.pk).update(
            outcome="matched", method="manual", microsoft_user_id=user_id, candidates=[], updated_at=timezone.now()
        )
        audit_record(
            organization=connection.organization,
            action=AuditAction.USER_MAPPING_SET,
            actor=acting_user,
            target=connection,
            details={"account_id": account_id, "microsoft_user_id": user_id, "before": match.microsoft_user_id},
        )
    return user_id


def manual_mapping_clear(*, connection: Connection, account_id: str, acting_user: User | None) -> bool:
    """Forget an admin's mapping; the account is decided again from what the last run read."""
    with transaction.atomic():
        deleted, _ = ManualMapping.objects.filter(connection=connection, account_id=account_id).delete()
        if not deleted:
            return False
        match = UserMatch.objects.select_for_update().filter(connection=connection, account_id=account_id).first()
        if match is not None:
            index = Index()
            wanted = [d for d in (match.email_key, match.upn_key) if d]
            for uid, digest, kinds in MicrosoftUserKey.objects.filter(
                connection=connection, digest__in=wanted
            ).values_list("user_id", "digest", "kinds"):
                index.add(uid, digest, kinds)
            decision = decide(match.email_key, match.upn_key, Rule.mode_of(matching_state(connection)), index)
            UserMatch.objects.filter(pk=match.pk).update(
                outcome=decision.outcome,
                method=decision.method,
                microsoft_user_id=decision.microsoft_user_id,
                candidates=list(decision.candidates),
                updated_at=timezone.now(),
            )
        audit_record(
            organization=connection.organization,
            action=AuditAction.USER_MAPPING_CLEARED,
            actor=acting_user,
            target=connection,
            details={"account_id": account_id},
        )
    return True


def email_storage_set(
    *, organization: Organization, store_emails: bool, acting_user: User | None,
) -> OrganizationMatchingSettings:
    """Turn the storing of email addresses on or off for the organization. Off also forgets the
    addresses already stored (the next full run does not bring them back)."""
    with transaction.atomic():
        settings_row, _ = OrganizationMatchingSettings.objects.select_for_update().get_or_create(
            organization=organization
        )
        before = settings_row.store_emails
        settings_row.store_emails = bool(store_emails)
        settings_row.save(update_fields=["store_emails", "updated_at"])
        forgotten = 0
        if not store_emails:
            forgotten = (
                UserMatch.objects.filter(connection__organization=organization).exclude(email="").update(email="")
            )
            MicrosoftUserKey.objects.filter(connection__organization=organization).exclude(value="").update(value="")
        audit_record(
            organization=organization,
            action=AuditAction.EMAIL_STORAGE_CHANGED,
            actor=acting_user,
            target=settings_row,
            target_label=str(organization),
            details={"before": before, "after": bool(store_emails), "addresses_forgotten": forgotten},
        )
    return settings_row
