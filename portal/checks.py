"""`manage.py check --deploy`: the secrets the start-up guard refuses (portal/secret_checks.py):
SECRET_KEY, CREDENTIAL_ENCRYPTION_KEYS and AUDIT_CHAIN_KEYS.

With DEBUG off the settings already refuse to load on such a secret; the check also catches
them where the guard does not run (DEBUG on, or settings changed after start), so a deploy
pipeline that runs `check --deploy` never ships a placeholder.
"""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from . import secret_checks


@register(Tags.security, deploy=True)
def secrets_check(app_configs, **kwargs):
    errors = []
    problem = secret_checks.secret_key_problem(settings.SECRET_KEY)
    if problem:
        errors.append(Error(
            f"SECRET_KEY is unsafe for production: {problem}.",
            hint=f"Generate one: `{secret_checks.GENERATE_SECRET_KEY}`.",
            id="portal.E001",
        ))
    keys = list(settings.CREDENTIAL_ENCRYPTION_KEYS)
    if not keys:
        errors.append(Error("CREDENTIAL_ENCRYPTION_KEYS is empty.", hint=secret_checks.GENERATE_FERNET_KEY,
                            id="portal.E002"))
    for position, why in secret_checks.credential_keys_problems(keys):
        errors.append(Error(
            f"CREDENTIAL_ENCRYPTION_KEYS key {position} is unsafe for production: {why}.",
            hint=f"Generate one: `{secret_checks.GENERATE_FERNET_KEY}`; keep an old key after the new one "
            "until `manage.py rotate_credentials` has re-encrypted everything.",
            id="portal.E002",
        ))
    chain_keys = list(settings.AUDIT_CHAIN_KEYS)
    if not chain_keys:
        errors.append(Error("AUDIT_CHAIN_KEYS is empty.", hint=secret_checks.GENERATE_AUDIT_CHAIN_KEY,
                            id="portal.E003"))
    for key_id, why in secret_checks.audit_chain_keys_problems(chain_keys):
        errors.append(Error(
            f"AUDIT_CHAIN_KEYS key {key_id} is unsafe for production: {why}.",
            hint=f"Generate one: `{secret_checks.GENERATE_AUDIT_CHAIN_KEY}` and put it first; keep the old "
            "entry after it as long as the audit trail holds events it signed.",
            id="portal.E003",
        ))
    return errors


# What the data-handling statement promises tenant admins: tenant URLs are logged for up to 5 days.
PROMISED_LOG_RETENTION_DAYS = 5


@register(Tags.security, deploy=True)
def retention_check(app_configs, **kwargs):
    if settings.LOG_RETENTION_DAYS > PROMISED_LOG_RETENTION_DAYS:
        return [Warning(
            f"LOG_RETENTION_DAYS is {settings.LOG_RETENTION_DAYS}: records with tenant and site URLs are kept "
            f"longer than the {PROMISED_LOG_RETENTION_DAYS} days the data-handling statement promises.",
            hint=f"Set LOG_RETENTION_DAYS to {PROMISED_LOG_RETENTION_DAYS} or less, or change the statement.",
            id="portal.W001",
        )]
    return []
