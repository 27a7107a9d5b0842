"""Routes requests that came in through the sandbox's servers to the sandbox's URLconf.

The sandbox's server (sandbox/server.py) marks each WSGI environ with "sandbox.urlconf";
requests to the portal's own server never carry it.
"""


class SandboxOriginMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        urlconf = request.META.get("sandbox.urlconf")
        if urlconf:
            request.urlconf = urlconf
        response = self.get_response(request)
        if urlconf:
            # The portal's Content-Security-Policy is for the portal's pages; the sandbox's
            # stand in for Microsoft's and Atlassian's (form_post's auto-submit included).
            del response["Content-Security-Policy"]
        return response
