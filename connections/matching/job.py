"""The user matching job: full runs and incremental runs, written batch by batch.

Full run, in two phases, each page written as one set-based batch with its checkpoint:
1. microsoft: a deltaLink for now, then Graph's /users page by page (directory.py); each
   user's address digests go to MicrosoftUserKey (an upsert of plain rows, see writes.py) and
   into an in-memory index of small tuples. The deltaLink is kept for the next incremental run.
2. atlassian: Jira users/search page by page; each account is decided against the index and
   its UserMatch row upserted (unique on connection + account id). The listing itself starts
   with the run and reads ahead (bounded) while phase 1 is written, so few of its pages are
   waited for.
Then rows of both tables this run did not see (an older `generation`) are deleted.
A resumed run reloads the index it already wrote from the database and carries on from the
checkpoint's page: upserts make a page written twice a no-op, never a duplicate.

Incremental run: the stored deltaLink gives only the Microsoft users that changed (incl.
`@removed`); their keys are replaced and only the accounts whose email/UPN digest touches
an old or new key of theirs are decided again. Jira has no change feed for users, so
Atlassian accounts are re-read by full runs (schedule those, e.g. nightly). An expired
delta token (410 syncStateNotFound) turns the run into a full run by itself; the run's mode
says "full" afterwards and its checkpoint says why.
"""

from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .. import http
from ..models import (
    ManualMapping,
    MicrosoftUserKey,
    OrganizationMatchingSettings,
    UserMatch,
    UserMatchingState,
)
from ..sync.errors import JobError
from ..sync.prefetch import Ahead, Pages
from . import directory, keys, writes
from .match import Index, Rule, decide, user_digests


def _job_error(message, remedy, *, cause=None):
    return JobError(message, remedy=remedy, transient=getattr(cause, "transient", False))


def _batch(ctx):
    """One transaction per batch (holding the connection row: a disconnect waits for it);
    the rows and the checkpoint commit together."""
    batch = getattr(ctx, "batch", None)
    return batch() if batch else transaction.atomic()


def stores_emails(organization):
    return OrganizationMatchingSettings.objects.filter(organization=organization, store_emails=True).exists()


def match_users(ctx):
    """Entry point (registered as the user_matching job)."""
    connection = ctx.connection
    state, _ = UserMatchingState.objects.get_or_create(connection=connection)
    rule = _rule(state)  # before anything is read or written
    checkpoint = dict(ctx.checkpoint or {})
    full = ctx.mode == "full" or checkpoint.get("phase") in ("microsoft", "atlassian")
    if not full:
        if not state.delta_link and not checkpoint.get("next"):
            return _fall_back(ctx, state, rule, "no earlier full run to continue from")
        try:
            return _incremental(ctx, state, rule, checkpoint)
        except directory.DeltaExpired:
            return _fall_back(ctx, state, rule, "Microsoft's delta token expired")
    return _full(ctx, state, rule, checkpoint)


def _rule(state):
    """The saved identity rule, compiled for RE2. A saved rule the checks refuse (one saved
    before they existed) fails the run, saying what to change: it is never applied."""
    try:
        return Rule.of(state)
    except keys.RuleError as exc:
        raise _job_error(
            f"The identity pattern is no longer accepted: {exc.message}",
            "On this connection's User mapping page, correct the regular expression under Identity mode "
            "(or choose Entra) and save: a full run then applies it.",
        ) from None


def _fall_back(ctx, state, rule, reason):
    ctx.logger.info("user matching: incremental run becomes a full run (%s)", reason)
    run = getattr(ctx, "run", None)
    if run is not None and run.pk:
        type(run).objects.filter(pk=run.pk).update(mode="full")
    ctx.mode = "full"
    return _full(ctx, state, rule, {"fallback": reason})


def _graph(ctx):
    try:
        return directory.graph_for(ctx.connection)  # lazy: the token comes with the first request
    except directory.GraphError as exc:  # no consent of this organization's own
        raise _job_error(str(exc), exc.remedy, cause=exc) from None


def _graph_call(read, *args):
    try:
        return read(*args)
    except directory.DeltaExpired:
        raise
    except directory.Forbidden as exc:
        raise _job_error("Microsoft Graph refused to list the tenant's users.", exc.remedy) from None
    except directory.GraphError as exc:
        raise _job_error(str(exc), exc.remedy, cause=exc) from None


def _graph_page(graph, link):
    return _graph_call(directory.graph_page, graph, link)


# --- full run ------------------------------------------------------------------------------


def _full(ctx, state, rule, checkpoint):
    generation = checkpoint.get("generation")
    if not generation:
        # A new generation per full run (a resumed run keeps its own): what it does not see
        # again, including rows an abandoned run wrote, is deleted at the end.
        UserMatchingState.objects.filter(pk=state.pk).update(generation=F("generation") + 1)
        state.refresh_from_db(fields=["generation"])
        generation = state.generation
    base = {"generation": generation, **({"fallback": checkpoint["fallback"]} if "fallback" in checkpoint else {})}
    store = stores_emails(ctx.organization)
    phase = checkpoint.get("phase", "microsoft")
    # Jira's listing starts now and runs ahead of its use: its first pages come in while the
    # Microsoft side is read and written (they do not depend on each other).
    accounts = _AccountPages(ctx.connection.site, checkpoint.get("start_at", 0) if phase == "atlassian" else 0)
    try:
        if phase == "microsoft":
            index, delta_link, ms_users = _read_microsoft(ctx, base, checkpoint, store, accounts.hand_over)
        else:
            index, delta_link, ms_users = (
                _load_index(ctx.connection, generation),
                checkpoint["delta_link"],
                checkpoint["ms_users"],
            )
        base = {**base, "delta_link": delta_link, "ms_users": ms_users}
        _read_atlassian(ctx, rule, base, index, store, accounts)
    finally:
        accounts.close()
    del index
    with _batch(ctx):
        deleted, _ = UserMatch.objects.filter(connection=ctx.connection).exclude(generation=generation).delete()
        MicrosoftUserKey.objects.filter(connection=ctx.connection).exclude(generation=generation).delete()
        now = timezone.now()
        UserMatchingState.objects.filter(pk=state.pk).update(
            delta_link=delta_link, microsoft_users=ms_users, last_full_at=now, updated_at=now
        )
        ctx.save_checkpoint({**base, "phase": "done"}, deleted=deleted)


def _read_microsoft(ctx, base, checkpoint, store, between_pages):
    graph = _graph(ctx)
    generation = base["generation"]
    if checkpoint.get("next"):  # resumed: what was written already is the start of the index
        index, url = _load_index(ctx.connection, generation), checkpoint["next"]
        ms_users = checkpoint.get("ms_users", 0)
        delta_link = checkpoint.get("delta_link", "")  # none: an older run's users/delta round
    else:
        # The deltaLink first: whatever changes while the users are listed, the next
        # incremental run sees (directory.py).
        index, url, ms_users = Index(), None, 0
        delta_link = _graph_call(directory.graph_delta_now, graph)
    # The next page is fetched while this one is written (the link comes from this page).
    read = partial(_graph_call, directory.graph_users_page, graph)
    pages = Pages(lambda link: partial(read, link or None), _next_link, url or "")
    for _link, page in pages:  # each page's batch checks the run first
        delta_link = page.delta_link or delta_link
        rows = []
        for user in page.users:
            if "@removed" in user or not user.get("id"):
                continue
            ms_users += 1
            for digest, (address, kinds) in user_digests(user).items():
                index.add(user["id"], digest, kinds)
                rows.append((ctx.connection.pk, user["id"], digest, kinds, address if store else "", generation))
        with _batch(ctx):
            writes.upsert_keys(rows)
            # Neither side says its size up front: the bar counts up.
            ctx.save_checkpoint(
                {**base, "phase": "microsoft", "next": page.next_link, "delta_link": delta_link, "ms_users": ms_users},
                fetched=len(page.users),
                done=ms_users,
            )
        between_pages()
        if not page.next_link:
            return index, delta_link, ms_users
    raise AssertionError("the listing ended without a last page")  # Pages stops after that page


def _next_link(page, _link):
    return page.next_link or None


def _load_index(connection, generation=None):
    index = Index()
    rows = MicrosoftUserKey.objects.filter(connection=connection)
    if generation is not None:
        rows = rows.filter(generation=generation)
    for user_id, digest, kinds in rows.values_list("user_id", "digest", "kinds").iterator(chunk_size=5000):
        index.add(user_id, digest, kinds)
    return index


def _account_keys(email, rule):
    """(email digest, derived-UPN digest, normalized email) of one Jira account's email."""
    email = keys.normalize(email)
    if not email:
        return "", "", ""
    upn = rule.upn_for(email)
    return keys.digest(email), keys.digest(upn), email


class _AccountPages:
    """Jira's users/search pages in order, read ahead of their use (prefetch.Ahead) as small
    tuples, up to SYNC_LOOKAHEAD_ACCOUNTS accounts. Pages may be shorter than asked, so each
    starts where the one before ended, and only an empty page is the end.
    Reference: https://developer.atlassian.com/cloud/jira/platform/rest/v3/intro/#pagination"""

    def __init__(self, site, start_at):
        session = http.session()  # one connection for every page (requests are sent one at a time)
        self._ahead: Ahead | None = None
        self._refused: directory.JiraUnavailable | None = None
        try:
            self._ahead = Ahead(
                lambda: directory.jira_client(site, session=session),
                lambda jira, at: _compact(directory.send_jira_page(jira, site, at)),
                _next_start,
                start_at,
                limit=settings.SYNC_LOOKAHEAD_ACCOUNTS,
                size=len,
            )
        except directory.JiraUnavailable as exc:  # no authorization to read with: said when the pages are due
            self._refused = exc

    def hand_over(self) -> None:
        """Between other work: the helper's next requests go with a freshly read token."""
        if self._ahead is not None:
            try:
                self._ahead.hand_over()
            except directory.JiraUnavailable:
                pass  # the helper keeps the client it has; the next take says what is wrong

    def next(self, up_to: int) -> tuple[int, int, list[tuple]] | None:
        """(start_at, accounts listed, [(account id, name, type, active, email)]) of the next
        page, with the non-empty pages after it that are in already, up to `up_to` accounts (one
        batch); (start_at, 0, []) for the empty page that ends the listing; None after it.
        Raises directory.JiraUnavailable as the listing does."""
        if self._refused is not None:
            raise self._refused
        assert self._ahead is not None
        item = self._ahead.take()
        if item is None:
            return None
        at, rows = item
        while rows and (taken := self._ahead.take_ready(partial(_fits, up_to - len(rows)))):
            rows = rows + taken[1]
        return at, len(rows), rows

    def close(self) -> None:
        if self._ahead is not None:
            self._ahead.close()


def _fits(room: int, page: list) -> bool:
    """A page that can join the batch: not the empty last page, and within the room left."""
    return 0 < len(page) <= room


def _compact(accounts) -> list[tuple]:
    return [
        (
            a.get("accountId"),
            (a.get("displayName") or "")[:255],
            (a.get("accountType") or "")[:32],
            bool(a.get("active", True)),
            a.get("emailAddress"),
        )
        for a in accounts
    ]


# At most this many accounts are written in one batch, from pages already read (a batch never
# waits for a page to merge): fewer, larger transactions, each with its checkpoint after its
# last page.
ATLASSIAN_BATCH = 2000


def _read_atlassian(ctx, rule, base, index, store, pages):
    connection, generation = ctx.connection, base["generation"]
    manual = dict(ManualMapping.objects.filter(connection=connection).values_list("account_id", "microsoft_user_id"))
    while True:  # each page's batch checks the run first
        try:
            page = pages.next(up_to=ATLASSIAN_BATCH)
        except directory.JiraUnavailable as exc:
            remedy = (
                "Atlassian is unavailable or busy; the run can be retried later."
                if exc.transient
                else "Check the site's authorization on the connection page (authorize again if asked), then retry."
            )
            raise _job_error(str(exc), remedy, cause=exc) from None
        if page is None:
            return
        at, size, accounts = page
        now = timezone.now()
        rows = []
        for account_id, name, account_type, active, address in accounts:
            if not account_id:
                continue
            email_key, upn_key, email = _account_keys(address, rule)
            decision = decide(email_key, upn_key, rule, index, manual.get(account_id, ""))
            rows.append(
                (
                    connection.pk,
                    account_id,
                    name,
                    account_type,
                    active,
                    email_key,
                    upn_key,
                    email if store else "",
                    decision.outcome,
                    decision.method,
                    decision.microsoft_user_id,
                    list(decision.candidates),
                    generation,
                    now,
                )
            )
        with _batch(ctx):
            counts = writes.upsert_matches(rows)
            start_at = at + size
            ctx.save_checkpoint(
                {**base, "phase": "atlassian", "start_at": start_at},
                fetched=size,
                done=base["ms_users"] + start_at,
                **counts,
            )
        if not size:
            return


def _next_start(accounts, at):
    return at + len(accounts) if accounts else None


# --- incremental run -----------------------------------------------------------------------


def _incremental(ctx, state, rule, checkpoint):
    connection = ctx.connection
    graph = _graph(ctx)
    store = stores_emails(ctx.organization)
    url = checkpoint.get("next") or state.delta_link
    while True:
        ctx.check()
        page = _graph_page(graph, url)  # DeltaExpired propagates: the caller falls back to full
        changed, removed = {}, set()
        for user in page.users:
            if not user.get("id"):
                continue
            if "@removed" in user:
                removed.add(user["id"])
            else:
                changed[user["id"]] = user_digests(user)
        with _batch(ctx):
            counts = _apply_changes(connection, state, changed, removed, rule, store)
            ctx.save_checkpoint(
                {"phase": "delta", "next": page.next_link}, fetched=len(page.users), deleted=len(removed), **counts
            )
        if not page.next_link:
            break
        url = page.next_link
    now = timezone.now()
    UserMatchingState.objects.filter(pk=state.pk).update(
        delta_link=page.delta_link or state.delta_link, last_incremental_at=now, updated_at=now
    )


def _apply_changes(connection, state, changed, removed, rule, store):
    ids = set(changed) | removed
    if not ids:
        return {}
    old_digests = set(
        MicrosoftUserKey.objects.filter(connection=connection, user_id__in=ids).values_list("digest", flat=True)
    )
    MicrosoftUserKey.objects.filter(connection=connection, user_id__in=ids).delete()
    MicrosoftUserKey.objects.bulk_create(
        [
            MicrosoftUserKey(
                connection_id=connection.pk,
                user_id=user_id,
                digest=digest,
                kinds=kinds,
                value=address if store else "",
                generation=state.generation,
            )
            for user_id, digests in changed.items()
            for digest, (address, kinds) in digests.items()
        ]
    )
    touched = old_digests | {d for digests in changed.values() for d in digests}
    affected = list(
        UserMatch.objects.filter(connection=connection).filter(
            Q(email_key__in=touched) | Q(upn_key__in=touched) | Q(microsoft_user_id__in=ids)
        )
    )
    if not affected:
        return {}
    wanted = {d for m in affected for d in (m.email_key, m.upn_key) if d}
    index = Index()
    for user_id, digest, kinds in MicrosoftUserKey.objects.filter(connection=connection, digest__in=wanted).values_list(
        "user_id", "digest", "kinds"
    ):
        index.add(user_id, digest, kinds)
    account_ids = [m.account_id for m in affected]
    manual = dict(
        ManualMapping.objects.filter(connection=connection, account_id__in=account_ids).values_list(
            "account_id", "microsoft_user_id"
        )
    )
    now, dirty = timezone.now(), []
    for row in affected:
        decision = decide(row.email_key, row.upn_key, rule, index, manual.get(row.account_id, ""))
        new = (decision.outcome, decision.method, decision.microsoft_user_id, list(decision.candidates))
        if new != (row.outcome, row.method, row.microsoft_user_id, list(row.candidates)):
            row.outcome, row.method, row.microsoft_user_id, row.candidates = new
            row.updated_at = now
            dirty.append(row)
    if dirty:
        UserMatch.objects.bulk_update(dirty, ["outcome", "method", "microsoft_user_id", "candidates", "updated_at"])
    return {"updated": len(dirty), "unchanged": len(affected) - len(dirty)}
