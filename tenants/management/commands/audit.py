"""`manage.py audit verify [--organization ID|SLUG]`: walk the audit trail's hash chain;
`manage.py audit purge`: delete removed organizations' trails after AUDIT_RETENTION_DAYS.

Prints each chain checked and, for a broken one, its first broken link; exits non-zero when
any chain is broken. The result is kept for the support pages ("chain verified up to ...").
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants import services
from tenants.audit_integrity import verify_and_alert
from tenants.models import Organization


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="Walk the chain and report the first broken link.")
        verify.add_argument("--organization", help="An organization's id or slug (default: every chain).")
        sub.add_parser("purge", help="Delete the trails of organizations removed more than AUDIT_RETENTION_DAYS "
                                     "ago (run as the tables' owner).")

    def handle(self, *args, **options) -> None:
        if options["action"] == "purge":
            purged = services.audit_retention_purge()
            for name, count in purged:
                self.stdout.write(f"{name}: {count} audit events deleted (removed over "
                                  f"{settings.AUDIT_RETENTION_DAYS} days ago).")
            self.stdout.write(self.style.SUCCESS(f"{len(purged)} removed organizations' trails deleted."))
            return
        organizations = None
        if options.get("organization"):
            wanted = options["organization"]
            found = Organization.objects.filter(slug=wanted).first()
            if found is None and wanted.isdigit():
                found = Organization.objects.filter(pk=int(wanted)).first()
            if found is None:
                raise CommandError(f"No organization with id or slug {wanted!r}.")
            organizations = [found]
        reports = verify_and_alert(organizations)
        for report in reports:
            self.stdout.write(report.describe())
        broken = [r for r in reports if not r.ok]
        if broken:
            raise CommandError(f"{len(broken)} of {len(reports)} chains are broken.")
        self.stdout.write(self.style.SUCCESS(f"All {len(reports)} chains verified."))
