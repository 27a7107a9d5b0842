"""`manage.py demo`: the whole portal on one machine with no server to install.

Migrates the SQLite database, seeds the sandbox and demo data, then runs side by side:
the web server, a real Celery worker (with embedded beat) on the filesystem broker, and
the sandbox's HTTPS server. Prints where to go and how to sign in; Ctrl-C stops all.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from io import StringIO

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError

from portal.demo_data import DEMO_EMAIL, DEMO_PASSWORD, GLOBEX_OWNER_EMAIL, STAFF_EMAIL, seed_demo

# The sandbox names products as Atlassian does; the portal's choices are shorter.
_PRODUCTS = {"jira-software": "jira", "jira": "jira", "confluence": "confluence",
             "jira-servicedesk": "jsm", "jira-service-management": "jsm", "jsm": "jsm"}


def _sandbox_records(info):
    """The sandbox's tenants and sites, as the demo organization registers them."""
    tenants = [
        {"tenant_id": t["id"], "display_name": t["display_name"], "domains": [d["name"] for d in t["domains"]]}
        for t in info.get("microsoft", {}).get("tenants", [])
    ]
    sites = [
        {
            "url": s["url"],
            "name": s["name"],
            "products": sorted({_PRODUCTS[p] for p in s.get("products", []) if p in _PRODUCTS}) or ["jira"],
            "cloud_id": s.get("cloud_id") or s.get("id", ""),
        }
        for s in info.get("atlassian", {}).get("sites", [])
    ]
    return {"sites": sites, "tenants": tenants}


class Command(BaseCommand):
    help = "Run the portal with the sandbox, a Celery worker and demo data (for a first look)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-serve", action="store_true", help="Set up and seed, then exit.")

    def handle(self, *args, host, port, no_serve, **options):
        if not settings.DEBUG:
            raise CommandError("The demo runs with DEBUG=true (it serves static files and prints emails).")
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        if "sandbox" in settings.DATABASES:
            call_command("migrate", database="sandbox", interactive=False, verbosity=0)
        info = self._seed_sandbox()
        seed_demo(**_sandbox_records(info))
        if no_serve:
            self.stdout.write("Demo data ready.")
            return
        self._serve(host, port, info)

    def _seed_sandbox(self):
        if not settings.SANDBOX_ENABLED or "sandbox" not in get_commands():
            return {}
        # --keep-existing: a restarted demo keeps its grants and tokens.
        call_command("sandbox", "seed", "--keep-existing", verbosity=0)
        out = StringIO()
        call_command("sandbox", "info", "--json", stdout=out)
        return json.loads(out.getvalue() or "{}")

    def _serve(self, host, port, info):
        python = sys.executable
        children = {
            "web": [python, "manage.py", "runserver", f"{host}:{port}", "--noreload", "--skip-checks"],
            "worker": [python, "-m", "celery", "-A", "portal", "worker", "--beat", "--concurrency=2",
                       "--loglevel=WARNING", "--schedule", str(settings.VAR_DIR / "celerybeat-schedule")],
        }
        if settings.SANDBOX_ENABLED and "sandbox" in get_commands():
            children["sandbox"] = [python, "manage.py", "sandbox", "serve"]
        # Each child in a session of its own: Ctrl-C reaches this process only, which then stops
        # the children in order (SIGTERM, then wait), instead of every process reacting at once.
        processes = {
            name: subprocess.Popen(cmd, cwd=settings.BASE_DIR, start_new_session=True)
            for name, cmd in children.items()
        }

        def stop(*_):
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            for process in processes.values():
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()

        signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
        try:
            self._wait_until_up(f"http://{host}:{port}/healthz", processes)
            connected = self._connect_demo_pairs(info)
            self._banner(host, port, info, connected)
            while all(p.poll() is None for p in processes.values()):
                time.sleep(0.5)
            dead = [name for name, p in processes.items() if p.poll() is not None]
            raise CommandError(f"The {', '.join(dead)} process stopped; see its output above.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            stop()

    def _wait_until_up(self, url, processes, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in processes.values()):
                return
            try:
                with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own loopback URL)
                    return
            except OSError as exc:
                # 503 from /healthz still means the web server answers.
                if getattr(exc, "code", None):
                    return
                time.sleep(0.5)

    def _connect_demo_pairs(self, info):
        """Connect Acme's first pairs through the real flows once the sandbox answers."""
        if not info or not self._sandbox_up(info.get("origin", "")):
            return []
        from portal.demo_connect import add_demo_colleagues, connect_demo_pairs, enable_intune, start_first_jobs
        from tenants.models import Organization, User

        try:
            atlassian_admin = info.get("atlassian", {}).get("admin") or {}
            admin, owner = User.objects.get(email=DEMO_EMAIL), User.objects.get(email=GLOBEX_OWNER_EMAIL)
            add_demo_colleagues()
            add_demo_colleagues(site_name="globex", tenant_domain="northwind", count=15)
            made = connect_demo_pairs(
                organization=Organization.objects.get(slug="acme"), admin=admin, atlassian_admin=atlassian_admin
            )
            start_first_jobs(made[:1], admin=admin)
            # Contoso reachable for Intune app protection; Fabrikam is the visitor's to connect.
            enable_intune(organization=Organization.objects.get(slug="acme"), admin=admin)
            globex = connect_demo_pairs(
                organization=Organization.objects.get(slug="globex"), admin=owner, atlassian_admin=atlassian_admin
            )
            start_first_jobs(globex, admin=owner)
            made += globex
            from connections.tasks import health_checks_run

            for connection in made:  # so the connection pages open with health check results
                health_checks_run.delay(connection_id=connection.pk)
        except Exception as exc:  # noqa: BLE001 - the demo still runs; the flows can be clicked by hand
            self.stderr.write(f"Could not connect the demo pairs by itself ({exc}); connect them from the pages.")
            return []
        return [str(c) for c in made]

    def _sandbox_up(self, origin, timeout=30):
        from connections.http import session

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                session().get(origin + "/common/discovery/keys", timeout=2)
                return True
            except OSError:  # requests' errors, and the CA file the sandbox has not written yet
                time.sleep(0.5)
        return False

    def _banner(self, host, port, info, connected=()):
        url = f"http://{host}:{port}/"
        lines = [
            "",
            "  Connections portal is running",
            f"    open        {url}",
            f"    sign in     {DEMO_EMAIL}  /  {DEMO_PASSWORD}",
            f"    support     {STAFF_EMAIL}  /  {DEMO_PASSWORD}  (asks for two-factor set-up first)",
        ]
        if info:
            lines += [
                f"    sandbox     {info.get('origin', '')}  (a local Microsoft + Atlassian)",
                f"                its admin page: {url}_sandbox/",
            ]
            for org in info.get("atlassian", {}).get("organizations", []):
                lines.append(f"    mobile apps register the Atlassian organization {org['name']}: id {org['id']}, "
                             "its API key on the sandbox's admin page")
        for pair in connected:
            lines.append(f"    connected   {pair}  (through the real consent flows, just now)")
        lines += ["    emails      are printed here (verification, invitations)", "    stop        Ctrl-C", ""]
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))
        self.stdout.flush()  # the sign-in must show at once, also when the output goes to a file
