"""Confluence Cloud REST a search crawler needs beyond pages: v2 blog posts and page ancestors,
v1 space permissions with anonymous access, v1 groups and their members (at most 200 a page),
v1 user search and v2 bulk user lookup (emails hidden by profile visibility)."""

import json
from urllib.parse import urlencode

from django.views.decorators.csrf import csrf_exempt

from .auth import api_view, json_response, site_url
from .confluence_views import (
    _bad_request,
    _listing,
    _not_found,
    _space,
    _v1_user,
    page_json,
    status_filter,
    with_parent,
)
from .models import Account, Group, Page, Space

BLOGPOST_SCOPES = ("read:blogpost:confluence", "read:confluence-content.all")
ANCESTOR_SCOPES = ("read:page:confluence", "read:hierarchical-content:confluence", "read:confluence-content.summary")
SPACE_V1_SCOPES = ("read:space:confluence", "read:confluence-space.summary")
GROUP_SCOPES = ("read:group:confluence", "read:confluence-groups")
USER_SCOPES = ("read:user:confluence", "read:confluence-user")
USER_SEARCH_SCOPES = ("read:user:confluence", "read:content-details:confluence", "search:confluence")

# v1 offset lists: groups and members at most 200 a page whatever `limit` asks.
# Reference: https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-group/#api-wiki-rest-api-group-groupid-membersbygroupid-get
V1_MAX_LIMIT = 200


# --------------------------------------------------------------------------------- v2 blog posts


def _blogposts(request, caller, queryset, path):
    queryset = status_filter(request, with_parent(queryset))
    if queryset is None:
        return _bad_request("status is not valid")
    fmt = request.GET.get("body-format")
    return _listing(request, caller, queryset, "page_id", path, lambda p: page_json(p, fmt))


@api_view("confluence", *BLOGPOST_SCOPES)
def blogposts(request, caller):
    """Blog posts, cursor-paged like pages; they need their own scope (read:blogpost:confluence).
    Reference: https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-blog-post/#api-blogposts-get"""
    queryset = Page.objects.filter(site=caller.site, type="blogpost")
    if request.GET.get("space-id"):
        queryset = queryset.filter(space__space_id__in=[i for i in request.GET["space-id"].split(",") if i.isdigit()])
    return _blogposts(request, caller, queryset, "/api/v2/blogposts")


@api_view("confluence", *BLOGPOST_SCOPES)
def space_blogposts(request, caller, space_id):
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-blog-post/#api-spaces-id-blogposts-get
    space = _space(caller, space_id)
    if space is None:
        return _not_found()
    return _blogposts(
        request, caller, Page.objects.filter(space=space, type="blogpost"), f"/api/v2/spaces/{space.space_id}/blogposts"
    )


@api_view("confluence", *BLOGPOST_SCOPES)
def blogpost_detail(request, caller, blogpost_id):
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-blog-post/#api-blogposts-id-get
    post = with_parent(Page.objects.filter(site=caller.site, page_id=blogpost_id, type="blogpost")).first()
    return json_response(page_json(post, request.GET.get("body-format"))) if post else _not_found()


# --------------------------------------------------------------------------------- v2 ancestors


@api_view("confluence", *ANCESTOR_SCOPES)
def page_ancestors(request, caller, page_id):
    """Every ancestor, highest first, `{id, type}` only; `limit` keeps the ones nearest the top
    and the caller continues from the first one returned.
    Reference: https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-ancestors/#api-pages-id-ancestors-get"""
    page = Page.objects.filter(site=caller.site, page_id=page_id, type="page").first()
    if page is None:
        return _not_found()
    try:
        limit = max(1, min(250, int(request.GET.get("limit", 25))))
    except ValueError:
        return _bad_request("limit must be between 1 and 250")
    chain, seen = [], {page.pk}
    parent_id = page.parent_id
    while parent_id and parent_id not in seen:  # a cycle cannot happen in Confluence; never loop here
        seen.add(parent_id)
        row = Page.objects.filter(pk=parent_id).values("pk", "page_id", "parent_id").first()
        if row is None:
            break
        chain.append(row["page_id"])
        parent_id = row["parent_id"]
    chain.reverse()  # top-to-bottom
    # "additional results (if available) will be available by calling this endpoint with the ID
    # of first ancestor in the response payload": the ones returned are those nearest the page.
    kept = chain[-limit:]
    return json_response({"results": [{"id": str(i), "type": "page"} for i in kept], "_links": {}})


# ------------------------------------------------------------------------- v1 space permissions


@api_view("confluence", *SPACE_V1_SCOPES)
def space_v1(request, caller, space_key):
    """v1 space; `expand=permissions` lists each operation with its subjects and
    `anonymousAccess` (the reliable way to see that a space is open to anonymous users).
    Reference: https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-space/#api-wiki-rest-api-space-spacekey-get"""
    space = Space.objects.filter(site=caller.site, key=space_key).first()
    if space is None:
        return json_response({"statusCode": 404, "message": f"No space with key : {space_key}"}, 404)
    base = site_url(request, caller.site) + "/wiki"
    body = {
        "id": space.space_id,
        "key": space.key,
        "name": space.name,
        "type": space.type,
        "status": "current",
        "_links": {"webui": f"/spaces/{space.key}", "base": base, "context": "/wiki"},
        "_expandable": {"permissions": "", "homepage": "", "description": ""},
    }
    expand = {e.strip() for e in request.GET.get("expand", "").split(",")}
    if "permissions" in expand:
        body["_expandable"].pop("permissions")
        groups = {g.name: g.group_id for g in Group.objects.filter(site=caller.site)}
        accounts = {
            a.account_id: a
            for a in Account.objects.filter(
                account_id__in=[p.principal_id for p in space.permissions.all() if p.principal_type == "user"]
            )
        }
        permissions = []
        for perm in space.permissions.all():
            entry = {
                "id": perm.perm_id,
                "operation": {"operation": perm.operation, "targetType": perm.target_type},
                "anonymousAccess": perm.principal_type == "anonymous",
                "unlicensedAccess": False,
            }
            if perm.principal_type == "user" and perm.principal_id in accounts:
                entry["subjects"] = {"user": {"results": [_v1_user(accounts[perm.principal_id])], "size": 1}}
            elif perm.principal_type == "group":
                group_id = perm.principal_id
                name = next((n for n, i in groups.items() if i == group_id), group_id)
                entry["subjects"] = {"group": {"results": [{"type": "group", "name": name, "id": group_id}], "size": 1}}
            permissions.append(entry)
        body["permissions"] = permissions
    return json_response(body)


# ------------------------------------------------------------------------------- v1 groups


def _offset(request):
    try:
        start = max(0, int(request.GET.get("start", 0)))
        limit = max(1, min(V1_MAX_LIMIT, int(request.GET.get("limit", 25))))
    except ValueError:
        return None, None
    return start, limit


def _v1_page(request, path, results, start, limit, total, extra=None):
    links = {"base": site_url(request, request.caller_site) + "/wiki", "context": "/wiki", "self": path}
    if start + limit < total:
        query = {k: v for k, v in request.GET.items() if k not in ("start", "limit")}
        links["next"] = f"{path}?{urlencode({**query, 'start': start + limit, 'limit': limit})}"
    body = {"results": results, "start": start, "limit": limit, "size": len(results), "_links": links}
    body.update(extra or {})
    return json_response(body)


@api_view("confluence", *GROUP_SCOPES)
def groups(request, caller):
    """Every group of the site, offset-paged.
    Reference: https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-group/#api-wiki-rest-api-group-get"""
    start, limit = _offset(request)
    if start is None:
        return json_response({"statusCode": 400, "message": "start and limit must be numbers"}, 400)
    rows = Group.objects.filter(site=caller.site).order_by("name")
    total = rows.count()
    results = [{"type": "group", "name": g.name, "id": g.group_id} for g in rows[start : start + limit]]
    request.caller_site = caller.site
    return _v1_page(request, "/rest/api/group", results, start, limit, total)


@api_view("confluence", *GROUP_SCOPES)
def group_members(request, caller, group_id):
    """A group's members by the group's id, at most 200 a page (`limit` above that is capped).
    Reference: https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-group/#api-wiki-rest-api-group-groupid-membersbygroupid-get"""
    group = Group.objects.filter(site=caller.site, group_id=group_id).first()
    if group is None:
        return json_response({"statusCode": 404, "message": f"No group found with id: {group_id}"}, 404)
    start, limit = _offset(request)
    if start is None:
        return json_response({"statusCode": 400, "message": "start and limit must be numbers"}, 400)
    members = group.members.order_by("account_id")
    total = members.count()
    results = [_v1_user(a) for a in members[start : start + limit]]
    request.caller_site = caller.site
    extra = {"totalSize": total} if request.GET.get("shouldReturnTotalSize") == "true" else {}
    return _v1_page(request, f"/rest/api/group/{group.group_id}/membersByGroupId", results, start, limit, total, extra)


# ------------------------------------------------------------------------------- users


@api_view("confluence", *USER_SEARCH_SCOPES)
def search_user(request, caller):
    """Users by CQL (`type = user` lists everyone). `email` is only there when the user's
    profile visibility allows it.
    Reference: https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-search/#api-wiki-rest-api-search-user-get"""
    cql = request.GET.get("cql", "").strip().replace(" ", "").lower()
    if cql not in ("type=user", "type='user'", 'type="user"'):
        return json_response({"statusCode": 400, "message": f"Could not parse cql : {request.GET.get('cql', '')}"}, 400)
    start, limit = _offset(request)
    if start is None:
        return json_response({"statusCode": 400, "message": "start and limit must be numbers"}, 400)
    accounts = Account.objects.filter(sites=caller.site, account_type="atlassian").order_by("account_id")
    total = accounts.count()
    results = [
        {"user": _v1_user(a), "title": a.display_name, "entityType": "user", "excerpt": ""}
        for a in accounts[start : start + limit]
    ]
    request.caller_site = caller.site
    return _v1_page(request, "/rest/api/search/user", results, start, limit, total, {"totalSize": total})


@csrf_exempt
@api_view("confluence", *USER_SCOPES)
def users_bulk(request, caller):
    """Up to 250 users by account id; `email` is empty where the profile hides it.
    Reference: https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-user/#api-users-bulk-post"""
    if request.method != "POST":
        return json_response({"statusCode": 405, "message": "Method Not Allowed"}, 405)
    try:
        ids = json.loads(request.body or b"{}").get("accountIds")
    except (ValueError, AttributeError):
        ids = None
    if not isinstance(ids, list) or not ids or len(ids) > 250 or not all(isinstance(i, str) for i in ids):
        return _bad_request("accountIds must list 1 to 250 account ids")
    found = Account.objects.filter(account_id__in=ids, sites=caller.site)
    results = [
        {
            "accountId": a.account_id,
            "accountType": a.account_type,
            "accountStatus": "active" if a.active else "inactive",
            "email": a.email if a.email_visible else "",
            "publicName": a.display_name,
            "displayName": a.display_name,
            "timeZone": a.time_zone,
            "isExternalCollaborator": False,
            "profilePicture": {"path": f"/wiki/aa-avatar/{a.account_id}", "width": 48, "height": 48, "isDefault": True},
        }
        for a in found
    ]
    return json_response({"results": results, "_links": {}})
