"""`manage.py check --deploy`: the secrets the start-up guard refuses (portal/secret_checks.py).

With DEBUG off the settings already refuse to load on such a secret; the check also catches
them where the guard does not run (DEBUG on, or settings changed after start), so a deploy
pipeline that runs `check --deploy` never ships a placeholder.
"""

from django.conf import settings
from django.core.checks import Error, Tags, register

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
    return errors
