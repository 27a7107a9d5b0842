"""Routes requests that came in through the sandbox's servers to the sandbox's URLconf.

The sandbox's server (sandbox/server.py) marks each WSGI environ with "sandbox.urlconf";
requests to the portal's own server never carry it. On those requests:
- no CSRF check: the sandbox's forms carry a signed flow instead (and API clients send none),
- an error Django or a decorator answered with HTML (404 and 500 pages, also DEBUG's technical
  ones; require_GET's empty 405) becomes the JSON error of the service the path belongs to
  (sandbox.views.provider_error): clients of Graph and Atlassian never see an HTML page.
"""

from .views import provider_error

_REPLACED = (404, 405, 500)


class SandboxOriginMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        urlconf = request.META.get("sandbox.urlconf")
        if urlconf:
            request.urlconf = urlconf
            request._dont_enforce_csrf_checks = True
        response = self.get_response(request)
        if urlconf:
            # The portal's Content-Security-Policy is for the portal's pages; the sandbox's
            # stand in for Microsoft's and Atlassian's (form_post's auto-submit included).
            del response["Content-Security-Policy"]
            if response.status_code in _REPLACED and not _is_json(response):
                return provider_error(request, response.status_code, response.get("Allow", ""))
        return response


def _is_json(response) -> bool:
    return "json" in response.get("Content-Type", "")
