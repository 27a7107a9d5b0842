"""Demo: an incident of the sandbox's Jira Service Management site (IT-1 on acme-support) with
responders who are people of the demo tenant Contoso, so the demo admin can create its Teams chat
and meeting. Demo only (the sandbox's own seed keeps its directories apart)."""

from connections.models import Connection, SyncRun
from connections.sync.services import sync_run_start

# (Contoso user, how they take part in IT-1)
RESPONDERS = [("alice", "watcher"), ("bob.case", "participant")]


def add_demo_responders(*, site_name="acme-support", tenant_domain="contoso", issue_key="IT-1"):
    """Atlassian accounts on the site for Contoso's Alice and Bob, watching and taking part in
    the incident. Idempotent; the number of accounts added."""
    from sandbox.atlassian.models import Account, Issue, Site
    from sandbox.microsoft.models import DirectoryUser

    site = Site.objects.filter(name=site_name).first()
    issue = Issue.objects.filter(site=site, key=issue_key).first() if site else None
    if issue is None:
        return 0
    added = 0
    for name, role in RESPONDERS:
        person = DirectoryUser.objects.filter(
            tenant__domains__name__startswith=tenant_domain + ".", user_principal_name__istartswith=name + "@",
            deleted=False,
        ).first()
        if person is None or not person.mail:
            continue
        account, created = Account.objects.get_or_create(
            account_id=f"demo-responder-{person.pk}",
            defaults={"email": person.mail, "display_name": person.display_name},
        )
        account.sites.add(site)
        (issue.watchers if role == "watcher" else issue.participants).add(account)
        added += created
    return added


def start_incident_matching(connections, *, admin):
    """User matching once for the connections with incident chats, so IT-1's responders have
    their Microsoft users when the demo opens."""
    started = []
    for connection in connections:
        if "jsm_chatops" in (connection.features or []) and connection.status != Connection.Status.DISCONNECTED \
                and not connection.sync_runs.filter(kind=SyncRun.Kind.USER_MATCHING).exists():
            started.append(sync_run_start(connection=connection, kind=SyncRun.Kind.USER_MATCHING, acting_user=admin))
    return started
