"""Re-encrypt every stored credential, and every two-factor secret, under the newest key of
CREDENTIAL_ENCRYPTION_KEYS.

Rotate a key: put the new key first in CREDENTIAL_ENCRYPTION_KEYS (keep the old one after
it), restart, run this command, then drop the old key.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from connections import crypto
from connections.models import Credential
from portal.accounts import rotate_authenticator_secrets


class Command(BaseCommand):
    help = "Re-encrypt all stored credentials and two-factor secrets under the newest encryption key."

    def handle(self, *args, **options):
        done = 0
        try:
            with transaction.atomic():
                for credential in Credential.objects.select_for_update().iterator(chunk_size=500):
                    credential._access_token = crypto.rotate(credential._access_token)
                    credential._refresh_token = crypto.rotate(credential._refresh_token)
                    credential.save(update_fields=["_access_token", "_refresh_token"])
                    done += 1
                # Two-factor secrets use the same keys: left under an old one, dropping it would
                # lock their owners out.
                authenticators = rotate_authenticator_secrets()
        except crypto.InvalidToken as exc:
            raise CommandError(
                "A credential or two-factor secret could not be decrypted with any configured key: nothing "
                "was changed. Put the key it was encrypted with back into CREDENTIAL_ENCRYPTION_KEYS."
            ) from exc
        self.stdout.write(
            f"Re-encrypted {done} credential(s) and {authenticators} two-factor secret(s) under the newest key."
        )
