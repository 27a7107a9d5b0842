"""Error answers in the identity platform's shapes: JSON from the token endpoint, a page in
the browser before the redirect URI is trusted, and query parameters after."""

import datetime
import json
import uuid
from urllib.parse import urlencode

from django.http import HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string


def page(template, context, status=200):
    """A sandbox page, rendered without the portal's context processors (which may reverse
    portal URLs that do not exist in the sandbox's URLconf)."""
    response = HttpResponse(render_to_string(f"sandbox_microsoft/{template}", context), status=status)
    response["Cache-Control"] = "no-store"
    return response


def _describe(code, message):
    trace, correlation = uuid.uuid4(), uuid.uuid4()
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    text = f"AADSTS{code}: {message} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {now}"
    return text, str(trace), str(correlation), now


def token_error(error, code, message, status=400, headers=None):
    """The token endpoint's 400/401 JSON body (msal reads `error` and `error_description`)."""
    text, trace, correlation, now = _describe(code, message)
    body = {
        "error": error,
        "error_description": text,
        "error_codes": [code],
        "timestamp": now,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json; charset=utf-8")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def fault_error(status, code, message, headers=None):
    """faults.apply's error factory for identity endpoints."""
    return token_error(
        "temporarily_unavailable" if status >= 500 else "throttled",
        90033 if status >= 500 else 50196,
        message,
        status=status,
        headers=headers,
    )


def throttled_error(retry_after):
    """The token endpoint throttling an app: HTTP 429 with Retry-After and the JSON error body
    (for client credentials Microsoft answers 429 with "Retry-After: 60":
    https://learn.microsoft.com/entra/msal/dotnet/advanced/client-and-server-throttling;
    AADSTS90055 TenantThrottlingError: https://learn.microsoft.com/entra/identity-platform/reference-error-codes)."""
    return token_error(
        "temporarily_unavailable",
        90055,
        "There are too many incoming requests. Retry after the time in the Retry-After header.",
        status=429,
        headers={"Retry-After": str(retry_after)},
    )


def error_page(request, code, message, status=400):
    """Shown in the browser when the redirect URI cannot be trusted (unknown app, mismatch)."""
    text, trace, correlation, now = _describe(code, message)
    return page(
        "error.html",
        {"code": code, "message": message, "trace": trace, "correlation": correlation, "now": now},
        status=status,
    )


def redirect_error(redirect_uri, *, error, code, message, state=None, response_mode="query", extra=None, request=None):
    """Back to the app with `error` and `error_description` (and the state it sent)."""
    text, *_ = _describe(code, message)
    params = {"error": error, "error_description": text, **(extra or {})}
    if state is not None:
        params["state"] = state
    return redirect_to(redirect_uri, params, response_mode, request)


def redirect_to(redirect_uri, params, response_mode="query", request=None):
    if response_mode == "form_post" and request is not None:
        return page("form_post.html", {"action": redirect_uri, "params": params})
    separator = "#" if response_mode == "fragment" else ("&" if "?" in redirect_uri else "?")
    return HttpResponseRedirect(redirect_uri + separator + urlencode(params))
