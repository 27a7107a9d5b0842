"""Encrypt the TOTP secrets and recovery-code seeds stored in the clear before the portal's MFA
adapter encrypted them (portal/accounts.py), under CREDENTIAL_ENCRYPTION_KEYS.

Values that already decrypt are left alone, so running it again changes nothing; reversing it
puts them back in the clear for the allauth default adapter.
"""

from django.db import migrations

from portal import crypto


def _is_encrypted(value):
    try:
        crypto.decrypt(value)
    except crypto.InvalidToken:
        return False
    return True


def _encrypt(value):
    return value if _is_encrypted(value) else crypto.encrypt(value)


def _decrypt(value):
    return crypto.decrypt(value) if _is_encrypted(value) else value


def _transform(apps, transform):
    Authenticator = apps.get_model("mfa", "Authenticator")
    for authenticator in Authenticator.objects.select_for_update().iterator(chunk_size=500):
        data = dict(authenticator.data)
        for key in ("secret", "seed"):
            if data.get(key):
                data[key] = transform(data[key])
        if data.get("migrated_codes"):
            data["migrated_codes"] = [transform(code) for code in data["migrated_codes"]]
        if data != authenticator.data:
            authenticator.data = data
            authenticator.save(update_fields=["data"])


def encrypt_secrets(apps, schema_editor):
    _transform(apps, _encrypt)


def decrypt_secrets(apps, schema_editor):
    _transform(apps, _decrypt)


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0005_site_authorization"),
        ("mfa", "0003_authenticator_type_uniq"),
    ]

    operations = [migrations.RunPython(encrypt_secrets, decrypt_secrets)]
