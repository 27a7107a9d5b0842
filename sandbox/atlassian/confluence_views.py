"""Confluence Cloud REST: v2 spaces, pages, page bodies, space permissions (cursor paging), v1
CQL search and page restrictions. One set of views for the gateway and the site URL."""

from urllib.parse import urlencode

from django.core import signing
from django.db.models import F
from django.http import Http404

from . import cql
from .auth import api_view, json_response, site_url
from .models import Group, Page, Space, SpacePermission
from .paging import limit_of, next_link, page_by_key, with_links

SPACE_SCOPES = ("read:space:confluence", "read:confluence-space.summary")
PAGE_SCOPES = ("read:page:confluence", "read:confluence-content.all")
PERMISSION_SCOPES = ("read:space:confluence", "read:space.permission:confluence", "read:permission:confluence")
SEARCH_SCOPES = ("search:confluence", "read:content-details:confluence")
RESTRICTION_SCOPES = ("read:content-details:confluence", "read:confluence-content.all")


def _bad_request(message):
    return json_response(
        {"errors": [{"status": 400, "code": "INVALID_REQUEST_PARAMETER", "title": message, "detail": None}]}, 400
    )


def _not_found():
    return json_response({"errors": [{"status": 404, "code": "NOT_FOUND", "title": "Not Found", "detail": None}]}, 404)


def _iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def space_json(space):
    return {
        "id": str(space.space_id),
        "key": space.key,
        "name": space.name,
        "type": space.type,
        "status": "current",
        "authorId": "",
        "createdAt": None,
        "homepageId": None,
        "description": None,
        "icon": None,
        "_links": {"webui": f"/spaces/{space.key}"},
    }


def page_json(page, body_format=None):
    webui = f"/spaces/{page.space.key}/{'blog' if page.type == 'blogpost' else 'pages'}/{page.page_id}"
    data = {
        "id": str(page.page_id),
        "status": page.status,
        "title": page.title,
        "spaceId": str(page.space.space_id),
        "parentId": str(page.parent_id_value) if getattr(page, "parent_id_value", None) else None,
        "parentType": "page" if getattr(page, "parent_id_value", None) else None,
        "position": None,
        "authorId": page.author_id,
        "ownerId": page.author_id,
        "lastOwnerId": None,
        "createdAt": _iso(page.created_at),
        "version": {
            "createdAt": _iso(page.modified_at),
            "message": "",
            "number": page.version,
            "minorEdit": False,
            "authorId": page.author_id,
        },
        "body": {},
        "_links": {
            "webui": webui,
            "editui": f"/pages/resumedraft.action?draftId={page.page_id}",
            "tinyui": f"/x/{page.page_id}",
        },
    }
    if body_format == "storage":
        data["body"] = {"storage": {"value": page.body, "representation": "storage"}}
    if page.type == "blogpost":
        # Blog posts have no place in the page tree.
        # Reference: https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-blog-post/#api-blogposts-get
        for key in ("parentId", "parentType", "position"):
            data.pop(key, None)
    return data


def with_parent(queryset):
    """Rows carrying their parent's Confluence id (one join, no query per page)."""
    return queryset.select_related("space").annotate(parent_id_value=F("parent__page_id"))


# v2 lists serve current (and archived) content unless `status` asks for others; `trashed`
# is how a crawler finds what left the space.
# Reference: https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-page/#api-pages-get
_STATUSES = {"current", "archived", "trashed", "deleted"}


def status_filter(request, queryset):
    wanted = [s for s in request.GET.get("status", "").split(",") if s]
    if not wanted:
        return queryset.filter(status__in=["current", "archived"])
    if any(s not in _STATUSES for s in wanted):
        return None
    return queryset.filter(status__in=wanted)


def _listing(request, caller, queryset, key, path, render):
    limit = limit_of(request)
    if limit is None:
        return _bad_request("limit must be between 1 and 250")
    rows, cursor = page_by_key(queryset, request, key, limit)
    base = site_url(request, caller.site) + "/wiki"
    links = {"base": base}
    nxt = next_link("/wiki" + path, request, cursor) if cursor else None
    if nxt:
        links["next"] = nxt
    return with_links(json_response({"results": [render(r) for r in rows], "_links": links}), nxt, base)


@api_view("confluence", *SPACE_SCOPES)
def spaces(request, caller):
    queryset = Space.objects.filter(site=caller.site)
    if request.GET.get("keys"):
        queryset = queryset.filter(key__in=request.GET["keys"].split(","))
    if request.GET.get("ids"):
        queryset = queryset.filter(space_id__in=[i for i in request.GET["ids"].split(",") if i.isdigit()])
    return _listing(request, caller, queryset, "space_id", "/api/v2/spaces", space_json)


def _space(caller, space_id):
    if not str(space_id).isdigit():
        raise Http404
    return Space.objects.filter(site=caller.site, space_id=int(space_id)).first()


@api_view("confluence", *SPACE_SCOPES)
def space_detail(request, caller, space_id):
    space = _space(caller, space_id)
    return json_response(space_json(space)) if space else _not_found()


@api_view("confluence", *PAGE_SCOPES)
def space_pages(request, caller, space_id):
    space = _space(caller, space_id)
    if space is None:
        return _not_found()
    fmt = request.GET.get("body-format")
    queryset = status_filter(request, with_parent(Page.objects.filter(space=space, type="page")))
    if queryset is None:
        return _bad_request("status is not valid")
    if request.GET.get("title"):
        queryset = queryset.filter(title=request.GET["title"])
    return _listing(
        request, caller, queryset, "page_id", f"/api/v2/spaces/{space.space_id}/pages", lambda p: page_json(p, fmt)
    )


@api_view("confluence", *PAGE_SCOPES)
def pages(request, caller):
    queryset = status_filter(request, with_parent(Page.objects.filter(site=caller.site, type="page")))
    if queryset is None:
        return _bad_request("status is not valid")
    if request.GET.get("space-id"):
        queryset = queryset.filter(space__space_id__in=[i for i in request.GET["space-id"].split(",") if i.isdigit()])
    fmt = request.GET.get("body-format")
    return _listing(request, caller, queryset, "page_id", "/api/v2/pages", lambda p: page_json(p, fmt))


@api_view("confluence", *PAGE_SCOPES)
def page_detail(request, caller, page_id):
    page = with_parent(Page.objects.filter(site=caller.site, page_id=int(page_id), type="page")).first()
    return json_response(page_json(page, request.GET.get("body-format"))) if page else _not_found()


def permission_json(perm):
    return {
        "id": str(perm.perm_id),
        "principal": {"type": perm.principal_type, "id": perm.principal_id or None},
        "operation": {"key": perm.operation, "targetType": perm.target_type},
    }


@api_view("confluence", *PERMISSION_SCOPES)
def space_permissions(request, caller, space_id):
    space = _space(caller, space_id)
    if space is None:
        return _not_found()
    # v2 names principals of type user, group or role only; anonymous access is read from v1's
    # space permissions (`anonymousAccess`), see confluence_search_views.space_v1.
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v2/api-group-space-permissions/#api-spaces-id-permissions-get
    return _listing(
        request,
        caller,
        SpacePermission.objects.filter(space=space, principal_type__in=["user", "group", "role"]),
        "perm_id",
        f"/api/v2/spaces/{space.space_id}/permissions",
        permission_json,
    )


# ------------------------------------------------------------------------ v1


def _v1_user(account):
    return {
        "type": "known",
        "accountId": account.account_id,
        "accountType": account.account_type,
        "email": account.email if account.email_visible else "",
        "publicName": account.display_name,
        "displayName": account.display_name,
    }


def restriction_json(request, caller, page, operation, rows):
    """One operation's restrictions (v1 shape): users and groups, each list capped at 200."""
    # Reference: https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-content-restrictions/#api-wiki-rest-api-content-id-restriction-byoperation-operationkey-get
    rows = [r for r in rows if r.operation == operation]
    users = [_v1_user(r.account) for r in rows if r.account]
    names = [r.group for r in rows if r.group]
    ids = dict(Group.objects.filter(site=caller.site, name__in=names).values_list("name", "group_id"))
    groups = [{"type": "group", "name": n, "id": ids.get(n, "")} for n in names]
    return {
        "operation": operation,
        "restrictions": {
            "user": {"results": users[:200], "start": 0, "limit": 200, "size": len(users[:200])},
            "group": {"results": groups[:200], "start": 0, "limit": 200, "size": len(groups[:200])},
        },
        "_links": {
            "self": f"{site_url(request, caller.site)}/wiki/rest/api/content/{page.page_id}"
            f"/restriction/byOperation/{operation}"
        },
    }


def _content_or_404(caller, content_id):
    page = Page.objects.filter(site=caller.site, page_id=int(content_id)).first()
    if page is None:
        return None, json_response({"statusCode": 404, "message": "No content found with id: " + str(content_id)}, 404)
    return page, None


@api_view("confluence", *RESTRICTION_SCOPES)
def restrictions_by_operation(request, caller, content_id):
    page, missing = _content_or_404(caller, content_id)
    if missing:
        return missing
    rows = list(page.restrictions.select_related("account").all())
    return json_response({op: restriction_json(request, caller, page, op, rows) for op in ("read", "update")})


@api_view("confluence", *RESTRICTION_SCOPES)
def restrictions_for_operation(request, caller, content_id, operation):
    if operation not in ("read", "update"):
        return json_response({"statusCode": 400, "message": f"Invalid operation key: {operation}"}, 400)
    page, missing = _content_or_404(caller, content_id)
    if missing:
        return missing
    rows = list(page.restrictions.select_related("account").all())
    return json_response(restriction_json(request, caller, page, operation, rows))


_SEARCH_CURSOR_SALT = "sandbox.atlassian.search-cursor"


@api_view("confluence", *SEARCH_SCOPES)
def search(request, caller):
    text = request.GET.get("cql", "")
    try:
        # Date literals are read in the calling user's time zone (results come back in UTC).
        # Reference: https://developer.atlassian.com/cloud/confluence/cql-fields/#last-modified
        query, order = cql.parse(text, time_zone=caller.account.time_zone)
    except cql.CQLError as error:
        return json_response(
            {
                "statusCode": 400,
                "data": {"authorized": True, "valid": False, "errors": [], "successful": False},
                "message": f"Could not parse cql : {text} ({error})",
            },
            400,
        )
    # Search pages by cursor only: `_links.next` carries `cursor`; `start` was deprecated and
    # then removed (15 July 2020), so it is ignored here as there.
    # Reference: https://developer.atlassian.com/cloud/confluence/change-notice-moderize-search-rest-apis/
    # and https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-search/#api-wiki-rest-api-search-get
    try:
        limit = min(max(1, int(request.GET.get("limit", 25))), 100)
        start = signing.loads(request.GET["cursor"], salt=_SEARCH_CURSOR_SALT)["start"] if request.GET.get(
            "cursor"
        ) else 0
    except (ValueError, KeyError, TypeError, signing.BadSignature):
        return json_response({"statusCode": 400, "message": "The cursor or limit is not valid."}, 400)
    # Trashed content is not found by search (it has left the space).
    queryset = (
        Page.objects.filter(site=caller.site, status__in=["current", "archived"])
        .filter(query)
        .select_related("space")
        .order_by(*order)
    )
    total = queryset.count()
    rows = list(queryset[start : start + limit])
    base = site_url(request, caller.site) + "/wiki"
    results = [
        {
            "content": {
                "id": str(p.page_id),
                "type": p.type,
                "status": p.status,
                "title": p.title,
                "space": {"key": p.space.key, "name": p.space.name},
                "version": {"number": p.version, "when": _iso(p.modified_at)},
                "_links": {
                    "webui": f"/spaces/{p.space.key}/{'blog' if p.type == 'blogpost' else 'pages'}/{p.page_id}",
                    "self": f"{base}/rest/api/content/{p.page_id}",
                },
            },
            "title": p.title,
            "excerpt": "",
            "url": f"/spaces/{p.space.key}/pages/{p.page_id}",
            "resultGlobalContainer": {"title": p.space.name, "displayUrl": f"/spaces/{p.space.key}"},
            "entityType": "content",
            "lastModified": _iso(p.modified_at),
            "friendlyLastModified": "",
        }
        for p in rows
    ]
    links = {"base": base, "context": "/wiki"}
    if start + limit < total:
        query_args = {k: v for k, v in request.GET.items() if k not in ("start", "limit", "cursor")}
        cursor = signing.dumps({"start": start + limit}, salt=_SEARCH_CURSOR_SALT)
        links["next"] = "/rest/api/search?" + urlencode({**query_args, "limit": limit, "cursor": cursor})
    return json_response(
        {
            "results": results,
            "start": start,
            "limit": limit,
            "size": len(results),
            "totalSize": total,
            "cqlQuery": text,
            "searchDuration": 3,
            "_links": links,
        }
    )
