"""Jira Cloud REST v3: user search, all users, project search, myself; and Jira Service
Management's info."""

from django.db.models import Q

from sandbox import faults

from . import offsets
from .auth import api_view, json_response, site_url
from .models import Account, Project

USER_SCOPES = ("read:jira-user",)
WORK_SCOPES = ("read:jira-work",)


def _bad(message):
    return json_response({"errorMessages": [message], "errors": {}}, 400)


def _paging(request, default=50, maximum=1000):
    try:
        start = int(request.GET.get("startAt", 0))
        size = int(request.GET.get("maxResults", default))
    except ValueError:
        return None, None
    return max(0, start), min(max(1, size), maximum)


# The largest page the user lists serve, whatever maxResults asks: Jira overrides a maxResults
# above an endpoint's own limit, limits differ per endpoint and change without notice, so a
# client pages until a page comes back empty. (The `page_limit` fault sets another limit.)
# Reference: https://confluence.atlassian.com/jirakb/changing-maxresults-parameter-for-jira-rest-api-779160706.html
# Reference: https://developer.atlassian.com/cloud/jira/platform/rest/v3/intro/#pagination
USER_PAGE_LIMIT = 500


def user_page_limit(site) -> int:
    return faults.page_limit(faults.site_target(site.name), USER_PAGE_LIMIT)


def user_json(request, site, account, base=None):
    base = base or site_url(request, site)
    data = {
        "self": f"{base}/rest/api/3/user?accountId={account.account_id}",
        "accountId": account.account_id,
        "accountType": account.account_type,
        "avatarUrls": {"48x48": f"https://avatar.example.invalid/{account.account_id}.png"},
        "displayName": account.display_name,
        "active": account.active,
        "timeZone": "Europe/Berlin",
        "locale": "en_US",
    }
    # Privacy settings: the real API simply leaves emailAddress out.
    if account.email_visible:
        data["emailAddress"] = account.email
    return data


def _members(site):
    return Account.objects.filter(sites=site)


def _page(request, site, users, start, size, key):
    """One page of `users` (ordered by account_id) from offset `start`, served by keyset when
    the previous page left a hint for this offset (sandbox/atlassian/offsets.py)."""
    size = min(size, user_page_limit(site))
    key = (site.pk, *key, offsets.generation())
    anchor = offsets.members.anchor(key, start) if start else None
    if anchor is not None and _members(site).filter(account_id=anchor).exists():
        rows = list(users.filter(account_id__gt=anchor).order_by("account_id")[:size])
    else:
        rows = list(users.order_by("account_id")[start : start + size])
    if rows:
        offsets.members.remember(key, start + len(rows), rows[-1].account_id)
    base = site_url(request, site)
    return json_response([user_json(request, site, a, base) for a in rows])


@api_view("jira", *USER_SCOPES)
def user_search(request, caller):
    start, size = _paging(request)
    if start is None:
        return _bad("startAt and maxResults must be numbers")
    query = request.GET.get("query", "").strip()
    account_id = request.GET.get("accountId", "").strip()
    if not query and not account_id:
        return _bad("One of 'query' or 'accountId' query parameters must be provided.")
    users = _members(caller.site)
    if account_id:
        users = users.filter(account_id=account_id)
    if query:
        # Real matching is by prefix of display name words or email; hidden emails still match
        # only on the name, so a hidden-email user cannot be found by email.
        users = users.filter(
            Q(display_name__istartswith=query)
            | Q(display_name__icontains=" " + query)
            | Q(email__istartswith=query, email_visible=True)
        )
    return _page(request, caller.site, users, start, size, ("user", query.lower(), account_id))


@api_view("jira", *USER_SCOPES)
def users_search(request, caller):
    start, size = _paging(request)
    if start is None:
        return _bad("startAt and maxResults must be numbers")
    return _page(request, caller.site, _members(caller.site), start, size, ("users",))


def project_json(request, site, project):
    base = site_url(request, site)
    return {
        "self": f"{base}/rest/api/3/project/{project.project_id}",
        "id": str(project.project_id),
        "key": project.key,
        "name": project.name,
        "projectTypeKey": project.project_type_key,
        "simplified": False,
        "style": "classic",
        "isPrivate": False,
        "properties": {},
        "avatarUrls": {"48x48": f"{base}/rest/api/3/universal_avatar/view/type/project/avatar/{project.project_id}"},
    }


@api_view("jira", *WORK_SCOPES)
def project_search(request, caller):
    start, size = _paging(request, default=50, maximum=100)
    if start is None:
        return _bad("startAt and maxResults must be numbers")
    projects = Project.objects.filter(site=caller.site)
    if request.GET.get("typeKey"):
        projects = projects.filter(project_type_key__in=request.GET["typeKey"].split(","))
    if request.GET.get("query"):
        q = request.GET["query"]
        projects = projects.filter(Q(key__iexact=q) | Q(name__icontains=q))
    total = projects.count()
    rows = list(projects.order_by("project_id")[start : start + size])
    path = request.build_absolute_uri(request.path)
    body = {
        "self": request.build_absolute_uri(),
        "maxResults": size,
        "startAt": start,
        "total": total,
        "isLast": start + size >= total,
        "values": [project_json(request, caller.site, p) for p in rows],
    }
    if start + size < total:
        body["nextPage"] = f"{path}?startAt={start + size}&maxResults={size}"
    return json_response(body)


@api_view("jira", *USER_SCOPES)
def myself(request, caller):
    return json_response(user_json(request, caller.site, caller.account) | {"emailAddress": caller.account.email})


# Reference: https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-info/
# ("Permissions required: None"): any caller of the site gets the instance's runtime information.
# A site without Jira Service Management has no servicedeskapi resource, hence 404.
@api_view("jira")
def service_management_info(request, caller):
    if "jira-servicedesk" not in caller.site.products:
        return json_response({"errorMessages": ["Jira Service Management is not installed on this site"]}, 404)
    return json_response(
        {
            "_links": {"self": request.build_absolute_uri(request.path)},
            "version": "10.3.0",
            "platformVersion": "1001.0.0",
            "buildDate": {"iso8601": "2026-11-02T09:00:00+0000", "epochMillis": 1793610000000},
            "buildChangeSet": "sandbox",
            "isLicensedForUse": True,
        }
    )
