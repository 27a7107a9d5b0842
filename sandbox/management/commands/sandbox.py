"""`manage.py sandbox serve|seed|info|fault|revoke|redirect-uri|log`."""

import json
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from sandbox import db, faults
from sandbox.microsoft import directory
from sandbox.microsoft.models import App


def _target(value):
    """'*', 'tenant:<guid>', 'site:<name>', or a tenant GUID/domain (resolved), else a site name."""
    if value == "*" or ":" in value:
        return value
    tenant = directory.resolve_tenant(value)
    return faults.tenant_target(tenant.pk) if tenant else faults.site_target(value)


def _params(items):
    params = {}
    for item in items or []:
        name, _, raw = item.partition("=")
        try:
            params[name] = json.loads(raw)
        except ValueError:
            params[name] = raw
    return params


class Command(BaseCommand):
    help = "Run and control the local Microsoft / Atlassian sandbox."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        serve = sub.add_parser("serve", help="serve HTTPS (APIs) and loopback HTTP (sign-in pages)")
        serve.add_argument("--host", default=None)
        serve.add_argument("--port", type=int, default=None)
        serve.add_argument("--browser-port", type=int, default=None)
        serve.add_argument("--seed-if-empty", action="store_true", help="seed first when there is no tenant")
        seed = sub.add_parser("seed", help="replace the sandbox data with deterministic data")
        seed.add_argument("--seed", type=int, default=1)
        seed.add_argument("--users", type=int, default=20, help="generated users per tenant")
        seed.add_argument("--big-tenant-users", type=int, default=None, help="users in the last tenant (e.g. 100000)")
        seed.add_argument("--atlassian-size", type=int, default=20)
        seed.add_argument("--keep-existing", action="store_true",
                          help="do nothing when sandbox data exists (keeps grants and tokens across demo runs)")
        info = sub.add_parser("info", help="base URLs, CA, apps, tenants, sites")
        info.add_argument("--json", action="store_true")
        fault = sub.add_parser("fault", help="switch faults on or off")
        fault.add_argument("op", choices=["set", "clear", "list"])
        fault.add_argument("kind", nargs="?", choices=[k.value for k in faults.Kind])
        fault.add_argument("target", nargs="?", help="tenant GUID or domain, site name, tenant:<id>, site:<n>, *")
        fault.add_argument(
            "--param", action="append", help="name=value, e.g. limit=5 window=60 share=0.5 ms=200 seconds=60"
        )
        revoke = sub.add_parser("revoke", help="revoke what a tenant granted an app")
        revoke.add_argument("tenant")
        revoke.add_argument("--app", default=None, help="client id (default: the portal's)")
        revoke.add_argument("--permission", default=None, help="one permission (default: all)")
        revoke.add_argument("--only", choices=["application", "delegated"], default=None)
        redirect = sub.add_parser("redirect-uri", help="register an exact redirect URI for an app")
        redirect.add_argument("uri")
        redirect.add_argument("--app", default=None)
        log = sub.add_parser("log", help="the last requests served")
        log.add_argument("--limit", type=int, default=30)

    def handle(self, *args, action, **options):
        if db.alias() != "default":  # its own SQLite file (sandbox/db.py): bring it up to date first
            call_command("migrate", database=db.alias(), interactive=False, verbosity=0)
        getattr(self, "do_" + action.replace("-", "_"))(**options)

    def do_serve(self, host, port, browser_port, seed_if_empty, **_):
        from sandbox.microsoft.models import Tenant
        from sandbox.server import serve_forever

        if not settings.SANDBOX_ENABLED:
            raise CommandError("SANDBOX_ENABLED is off: the sandbox's apps are not installed.")
        if seed_if_empty and not Tenant.objects.exists():
            self.do_seed(seed=1, users=20, big_tenant_users=None, atlassian_size=20)
        directory.ensure_portal_app()
        serve_forever(host, port, browser_port, stdout=self.stdout)

    def do_seed(self, seed, users, big_tenant_users, atlassian_size, keep_existing=False, **_):
        from sandbox.microsoft.models import Tenant
        from sandbox.seeding import seed as run_seed

        if keep_existing and Tenant.objects.exists():
            self.stdout.write("Sandbox data exists; kept (--keep-existing).")
            return
        started = time.monotonic()
        tenants, atlassian = run_seed(seed, users, big_tenant_users, atlassian_size)
        for tenant in tenants:
            self.stdout.write(f"tenant {tenant.display_name} {tenant.pk}: {tenant.users.count()} users")
        if not atlassian:
            self.stdout.write("Atlassian seed not available (sandbox.atlassian.seed missing).")
        self.stdout.write(self.style.SUCCESS(f"Seeded (seed {seed}) in {time.monotonic() - started:.1f} s."))

    def do_info(self, json: bool = False, **_):  # noqa: A002 - the option is --json
        import json as json_module

        from sandbox.info import sandbox_info

        info = sandbox_info()
        if json:
            self.stdout.write(json_module.dumps(info, indent=2))
            return
        ms = info["microsoft"]
        self.stdout.write(
            f"Sandbox origin {info['origin']} (CA {info['ca_bundle']}), sign-in pages {info['browser_origin']}"
        )
        self.stdout.write(f"Authority host {ms['authority_host']}  Graph {ms['graph']}")
        for tenant in ms["tenants"]:
            self.stdout.write(
                f"- {tenant['display_name']} {tenant['id']} {', '.join(d['name'] for d in tenant['domains'])}"
            )
            for role in ("admin", "user"):
                if tenant[role]:
                    self.stdout.write(f"    {role}: {tenant[role]['username']} / {tenant[role]['password']}")
        self.stdout.write(f"Atlassian auth {info['atlassian']['auth']}  API {info['atlassian']['api']}")
        for site in info["atlassian"].get("sites", []):
            self.stdout.write(f"- site {site}")
        for org in info["atlassian"].get("organizations", []):
            self.stdout.write(f"- organization {org['name']} id {org['id']}  API key {org['api_key']}  "
                              f"(expires {org['api_key_expires_at']})")

    def do_fault(self, op, kind, target, param, **_):
        if op == "list":
            for fault in faults.Fault.objects.order_by("target", "kind"):
                self.stdout.write(str(fault))
            return
        if op == "clear":
            removed = faults.clear(kind=kind, target=_target(target) if target else None)
            self.stdout.write(f"Cleared {removed} fault(s).")
            return
        if not kind or not target:
            raise CommandError("fault set needs a kind and a target.")
        fault = faults.set_fault(kind, _target(target), **_params(param))
        self.stdout.write(f"Set {fault}.")

    def do_revoke(self, tenant, app, permission, only, **_):
        found = directory.resolve_tenant(tenant)
        if found is None:
            raise CommandError(f"No tenant {tenant}.")
        app_obj = App.objects.get(client_id=app or settings.MICROSOFT_CLIENT_ID)
        removed = directory.revoke(
            tenant=found,
            app=app_obj,
            permission=permission,
            delegated=only != "application",
            application=only != "delegated",
        )
        self.stdout.write(f"Revoked {removed} permission(s) of {app_obj.display_name} in {found.display_name}.")

    def do_redirect_uri(self, uri, app, **_):
        directory.register_redirect_uri(app or settings.MICROSOFT_CLIENT_ID, uri)
        self.stdout.write(f"Registered {uri}.")

    def do_log(self, limit, **_):
        from sandbox.models import RequestLog

        for row in reversed(RequestLog.objects.order_by("-pk")[:limit]):
            query = f"?{row.query}" if row.query else ""
            self.stdout.write(
                f"{row.created:%H:%M:%S} {row.status} {row.method} {row.path}{query[:120]} "
                f"{row.client_id} {row.duration_ms}ms"
            )
