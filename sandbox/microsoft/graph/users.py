"""Graph users: list (keyset-paged, $select, $top, $filter), one user, /me and users/delta."""

import datetime
import re
import uuid

from django.views.decorators.http import require_GET

from ... import faults
from ..models import DirectoryUser, Tenant
from .common import context_url, error, graph_endpoint, link, ok, pack, parse_top, unpack

READ_ALL_APP = ("User.Read.All", "Directory.Read.All", "User.ReadWrite.All")
READ_ALL_DELEGATED = ("User.ReadBasic.All", "User.Read.All", "Directory.Read.All", "User.ReadWrite.All")
DELTA_TOKEN_SECONDS = 7 * 24 * 3600
DELTA_PAGE_SIZE = 200

# Graph property -> model column (None: always the same value here).
PROPERTIES = {
    "id": "id",
    "displayName": "display_name",
    "givenName": "given_name",
    "surname": "surname",
    "mail": "mail",
    "userPrincipalName": "user_principal_name",
    "jobTitle": "job_title",
    "proxyAddresses": "proxy_addresses",
    "accountEnabled": "account_enabled",
    "userType": "user_type",
    "createdDateTime": "created",
    "businessPhones": None,
    "mobilePhone": None,
    "officeLocation": None,
    "preferredLanguage": None,
}
DEFAULT_SELECT = [
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
]
_BY_LOWER = {name.lower(): name for name in PROPERTIES}
_FILTER_FIELDS = {
    "mail": "mail",
    "userprincipalname": "user_principal_name",
    "id": "id",
    "accountenabled": "account_enabled",
    "usertype": "user_type",
}
_CLAUSE = re.compile(r"^\s*(\w+)\s+eq\s+('(?:[^']|'')*'|true|false)\s*$", re.IGNORECASE)
_IN_CLAUSE = re.compile(r"^\s*(\w+)\s+in\s+\((.*)\)\s*$", re.IGNORECASE)
_QUOTED = re.compile(r"\s*'((?:[^']|'')*)'\s*(?:,|$)")
# Without the advanced query parameters, a filter holds at most 15 expressions: `in` values and
# `or` clauses count alike, and the 16th is refused with this sentence.
# Reference: https://learn.microsoft.com/graph/filter-query-parameter#operators-and-functions-supported-in-filter-expressions
MAX_FILTER_EXPRESSIONS = 15


class QueryError(Exception):
    pass


def parse_select(raw):
    if not raw:
        return DEFAULT_SELECT
    names = []
    for item in raw.split(","):
        name = _BY_LOWER.get(item.strip().lower())
        if name is None:
            raise QueryError(f"Could not find a property named '{item.strip()}' on type 'microsoft.graph.user'.")
        names.append(name)
    return list(dict.fromkeys(names))


def parse_filter(raw):
    """[(column, value), ...] any of which may match ("or"); only `eq` on a few properties."""
    if not raw:
        return []
    clauses = []
    for part in re.split(r"\s+or\s+", raw.strip(), flags=re.IGNORECASE):
        listed = _IN_CLAUSE.match(part)
        if listed and _FILTER_FIELDS.get(listed.group(1).lower()):
            values = _QUOTED.findall(listed.group(2))
            if not values:
                raise QueryError(f"Invalid filter clause: {part.strip()}")
            column = _FILTER_FIELDS[listed.group(1).lower()]
            clauses.extend((column, v.replace("''", "'")) for v in values)
            continue
        match = _CLAUSE.match(part)
        column = _FILTER_FIELDS.get(match.group(1).lower()) if match else None
        if column is None:
            raise QueryError(
                f"Unsupported or invalid query filter clause specified for property of resource 'User': {part.strip()}"
            )
        value = match.group(2)
        value = value[1:-1].replace("''", "'") if value.startswith("'") else value.lower() == "true"
        clauses.append((column, value))
    if len(clauses) > MAX_FILTER_EXPRESSIONS:
        raise QueryError(
            f"Too many child clauses specified in search filter expression containing 'OR' operators: "
            f"{len(clauses)}. Max allowed: {MAX_FILTER_EXPRESSIONS}."
        )
    return clauses


def _apply_filter(rows, clauses):
    from django.db.models import Q

    if not clauses:
        return rows
    condition = Q()
    for column, value in clauses:
        if column == "id":
            try:
                value = uuid.UUID(str(value))
            except ValueError:
                return rows.none()
            condition |= Q(id=value)
        elif column in ("mail", "user_principal_name", "user_type"):
            condition |= Q(**{f"{column}__iexact": value})
        else:
            condition |= Q(**{column: value})
    return rows.filter(condition)


def _columns(select):
    return sorted({PROPERTIES[name] for name in select if PROPERTIES[name]} | {"id"})


def serialize(row, select):
    item = {}
    for name in select:
        column = PROPERTIES[name]
        value = row[column] if column else ([] if name == "businessPhones" else None)
        if column == "id":
            value = str(value)
        elif column == "created":
            value = value.strftime("%Y-%m-%dT%H:%M:%SZ")
        item[name] = value
    return item


def _parse_common(request):
    try:
        return parse_select(request.GET.get("$select")), parse_filter(request.GET.get("$filter")), None
    except QueryError as bad:
        return (
            None,
            None,
            error(
                400,
                "Request_UnsupportedQuery" if "filter" in str(bad) else "Request_BadRequest",
                str(bad),
                request=request,
            ),
        )


def _needs_eventual(request):
    if (request.GET.get("$search") or request.GET.get("$count")) and request.headers.get(
        "ConsistencyLevel", ""
    ).lower() != "eventual":
        return error(
            400,
            "Request_UnsupportedQuery",
            "The request uses a filter or search that requires the ConsistencyLevel header set to 'eventual'.",
            request=request,
        )
    return None


@require_GET
@graph_endpoint(application=READ_ALL_APP, delegated=READ_ALL_DELEGATED)
def list_users(request, caller, version):
    if request.GET.get("$skiptoken"):
        try:
            state = unpack(request.GET["$skiptoken"])
        except Exception:  # noqa: BLE001 - any tampering is the same bad request
            return error(400, "Request_BadRequest", "Invalid skip token.", request=request)
        select, clauses, top, after = (
            state["sel"],
            [tuple(c) for c in state["f"]],
            state["top"],
            state["after"],
        )
    else:
        failure = _needs_eventual(request)
        if failure:
            return failure
        top, failure = parse_top(request, 999, 100)
        if failure:
            return failure
        # Server-side paging may give fewer than $top (the `page_limit` fault sets how many).
        # Reference: https://learn.microsoft.com/graph/paging
        top = min(top, faults.page_limit(faults.tenant_target(caller.tenant.pk), top))
        select, clauses, failure = _parse_common(request)
        if failure:
            return failure
        after = None
    rows = _apply_filter(DirectoryUser.objects.filter(tenant=caller.tenant, deleted=False), clauses)
    if after:
        rows = rows.filter(id__gt=uuid.UUID(after))
    page = list(rows.order_by("id").values(*_columns(select))[: top + 1])
    body = {"@odata.context": context_url(request, version, "users")}
    if request.GET.get("$count") == "true" and not after:
        body["@odata.count"] = _apply_filter(
            DirectoryUser.objects.filter(tenant=caller.tenant, deleted=False), clauses
        ).count()
    if len(page) > top:
        page = page[:top]
        token = pack({"sel": select, "f": clauses, "top": top, "after": str(page[-1]["id"])})
        body["@odata.nextLink"] = link(request, f"/{version}/users", **{"$skiptoken": token})
    body["value"] = [serialize(row, select) for row in page]
    return ok(body)


def _one_user(request, caller, version, user_query):
    select, _, failure = _parse_common(request)
    if failure:
        return failure
    row = user_query.values(*_columns(select)).first()
    if row is None:
        return error(
            404,
            "Request_ResourceNotFound",
            "Resource does not exist or one of its queried reference-property objects are not present.",
            request=request,
        )
    return ok({"@odata.context": context_url(request, version, "users/$entity"), **serialize(row, select)})


@require_GET
@graph_endpoint(application=READ_ALL_APP, delegated=(*READ_ALL_DELEGATED, "User.Read"))
def get_user(request, caller, version, user_id):
    users = DirectoryUser.objects.filter(tenant=caller.tenant, deleted=False)
    try:
        users = users.filter(id=uuid.UUID(user_id))
    except ValueError:
        users = users.filter(user_principal_name__iexact=user_id)
    if not caller.is_app and "User.Read" in caller.permissions and not (set(READ_ALL_DELEGATED) & caller.permissions):
        users = users.filter(id=caller.user.pk)  # User.Read alone reaches only the signed-in user
    return _one_user(request, caller, version, users)


@require_GET
@graph_endpoint(delegated=(*READ_ALL_DELEGATED, "User.Read"), delegated_only=True)
def me(request, caller, version):
    return _one_user(request, caller, version, DirectoryUser.objects.filter(pk=caller.user.pk))


@require_GET
@graph_endpoint(application=READ_ALL_APP, delegated=READ_ALL_DELEGATED)
def users_delta(request, caller, version):
    """Full round pages by id; later rounds page by change number and report deletions."""
    target = faults.tenant_target(caller.tenant.pk)
    max_age = faults.delta_expiry(target, DELTA_TOKEN_SECONDS)
    tenant_seq = Tenant.objects.values_list("change_seq", flat=True).get(pk=caller.tenant.pk)
    token = request.GET.get("$deltatoken") or request.GET.get("$skiptoken")
    if token == "latest":
        # "Sync from now": directory resources (users, groups) answer `$deltatoken=latest` with a
        # deltaLink and no resource data. It is the round's first request, so the state token
        # carries its `$select` as it would the first page's.
        # Reference: https://learn.microsoft.com/graph/delta-query-overview (state tokens; sync from now)
        try:
            select = parse_select(request.GET.get("$select"))
        except QueryError as bad:
            return error(400, "Request_BadRequest", str(bad), request=request)
        body = {"@odata.context": context_url(request, version, "users(" + ",".join(select) + ")"), "value": []}
        body["@odata.deltaLink"] = link(
            request,
            f"/{version}/users/delta",
            **{"$deltatoken": pack({"sel": select, "since": tenant_seq, "t": str(caller.tenant.pk)})},
        )
        return ok(body)
    if token:
        try:
            state = unpack(token, max_age=max_age)
        except Exception:  # noqa: BLE001 - expired, tampered: the sync state is gone either way
            # Microsoft announced 400 BadRequest with code syncStateNotFound for an expired token of
            # identity resources (users, groups) and this message; older answers were 410 Gone, which
            # the `delta_expiry` fault can still give ({"status": 410}).
            # Reference: https://devblogs.microsoft.com/microsoft365dev/duration-of-change-tracking-tokens-for-identity-and-education-resources/
            return error(
                faults.delta_expiry_status(target),
                "syncStateNotFound",
                "The sync state generation is not found. The delta token is expired and data must be "
                "synchronized again.",
                request=request,
            )
        if state.get("t") != str(caller.tenant.pk):
            return error(400, "Request_BadRequest", "Invalid delta token.", request=request)
        if "$deltatoken" in request.GET:  # a new round: snapshot the directory's change number
            state = {**state, "upto": tenant_seq, "after": None}
    else:
        try:
            select = parse_select(request.GET.get("$select"))
        except QueryError as bad:
            return error(400, "Request_BadRequest", str(bad), request=request)
        state = {"sel": select, "since": None, "upto": tenant_seq, "after": None, "t": str(caller.tenant.pk)}
    # users/delta takes no $top: the page size is the server's (the `page_limit` fault sets it).
    # Reference: https://learn.microsoft.com/graph/delta-query-users
    # Reference: https://learn.microsoft.com/graph/api/user-delta#query-parameters
    top = faults.page_limit(target, DELTA_PAGE_SIZE)
    select = state["sel"]
    rows = DirectoryUser.objects.filter(tenant=caller.tenant)
    if state["since"] is None:
        rows = rows.filter(deleted=False).order_by("id")
        if state["after"]:
            rows = rows.filter(id__gt=uuid.UUID(state["after"]))
    else:
        rows = rows.filter(change_seq__gt=state["after"] or state["since"], change_seq__lte=state["upto"])
        rows = rows.order_by("change_seq")
    page = list(rows.values(*_columns(select), "deleted", "purged", "change_seq")[: top + 1])
    body = {"@odata.context": context_url(request, version, "users(" + ",".join(select) + ")")}
    if len(page) > top:
        page = page[:top]
        last = page[-1]
        after = str(last["id"]) if state["since"] is None else last["change_seq"]
        body["@odata.nextLink"] = link(
            request, f"/{version}/users/delta", **{"$skiptoken": pack({**state, "after": after})}
        )
    else:
        body["@odata.deltaLink"] = link(
            request,
            f"/{version}/users/delta",
            **{
                "$deltatoken": pack(
                    {
                        "sel": select,
                        "since": state["upto"],
                        "t": state["t"],
                        "issued": datetime.datetime.now(datetime.UTC).isoformat(),
                    }
                )
            },
        )
    body["value"] = [
        {"id": str(row["id"]), "@removed": {"reason": "deleted" if row["purged"] else "changed"}}
        if row["deleted"]
        else serialize(row, select)
        for row in page
    ]
    return ok(body)
