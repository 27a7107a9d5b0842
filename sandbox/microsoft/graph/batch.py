"""POST /$batch: up to 20 requests run one by one through the same views, each with its own
status (so one can be throttled alone); a request whose dependency failed gets 424."""

import json
from urllib.parse import urlsplit

from django.test.client import RequestFactory
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ... import requestlog
from ...defaults import GRAPH_PATH
from .common import authenticate, error, ok

MAX_REQUESTS = 20
_factory = RequestFactory()


def _body(response):
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return response.content.decode(errors="replace")


def _run(outer, version, item):
    url = item.get("url", "")
    parts = urlsplit(url if url.startswith("/") else "/" + url)
    path = f"{GRAPH_PATH}/{version}{parts.path}"
    method = item.get("method", "GET").upper()
    headers = {k: v for k, v in (item.get("headers") or {}).items()}
    extra = {key: value for key, value in outer.META.items() if key.startswith("sandbox.")}
    extra["HTTP_AUTHORIZATION"] = outer.headers.get("Authorization", "")
    extra["wsgi.url_scheme"] = outer.scheme
    extra["sandbox.port"] = "batch"
    for name, value in headers.items():
        if name.lower() != "content-type":
            extra["HTTP_" + name.upper().replace("-", "_")] = value
    body = item.get("body")
    inner = _factory.generic(
        method,
        f"{path}?{parts.query}" if parts.query else path,
        data=json.dumps(body) if body is not None else "",
        content_type=headers.get("Content-Type", headers.get("content-type", "application/json")),
        SERVER_NAME=outer.get_host().split(":")[0],
        SERVER_PORT=outer.get_port(),
        **extra,
    )
    inner.urlconf = outer.urlconf if hasattr(outer, "urlconf") else None
    try:
        match = resolve(path, urlconf=getattr(outer, "urlconf", None))
    except Resolver404:
        response = error(404, "BadRequest", f"Resource not found for the segment '{parts.path}'.", request=outer)
    else:
        response = match.func(inner, *match.args, **match.kwargs)
    requestlog.record(inner.META, response.status_code, 0)
    result = {
        "id": item.get("id"),
        "status": response.status_code,
        "headers": {k: v for k, v in response.items() if k.lower() in ("content-type", "retry-after", "location")},
        "body": _body(response),
    }
    return result


@csrf_exempt
@require_POST
def batch(request, version):
    caller, failure = authenticate(request)
    if failure:
        return failure
    try:
        requests = json.loads(request.body or b"{}").get("requests")
    except (ValueError, AttributeError):
        requests = None
    if not isinstance(requests, list) or not requests:
        return error(400, "BadRequest", "Invalid batch payload format.", request=request)
    if len(requests) > MAX_REQUESTS:
        return error(
            400,
            "BadRequest",
            f"The batch request contains more than {MAX_REQUESTS} requests.",
            request=request,
        )
    ids = [str(item.get("id")) for item in requests]
    if len(set(ids)) != len(ids) or any(item.get("id") in (None, "") for item in requests):
        return error(400, "BadRequest", "Each batch request needs a unique id.", request=request)
    statuses, responses = {}, []
    for item in requests:
        depends = [str(d) for d in item.get("dependsOn") or []]
        unknown = [d for d in depends if d not in statuses]
        if unknown:
            return error(
                400,
                "BadRequest",
                f"dependsOn names requests not before it: {', '.join(unknown)}.",
                request=request,
            )
        if any(not 200 <= statuses[d] < 300 for d in depends):
            result = {
                "id": item.get("id"),
                "status": 424,
                "headers": {"Content-Type": "application/json"},
                "body": {
                    "error": {
                        "code": "FailedDependency",
                        "message": "The request could not be performed because a request it depends on failed.",
                    }
                },
            }
        else:
            result = _run(request, version, item)
        statuses[str(item.get("id"))] = result["status"]
        responses.append(result)
    return ok({"responses": responses})
