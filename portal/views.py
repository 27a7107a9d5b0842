"""Views that belong to no single app: the front door, health, and error pages."""

from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .health import check_all


def home(request):
    if request.user.is_authenticated:
        return redirect("tenants:dashboard")
    return render(request, "portal/home.html")


@never_cache
@require_GET
def healthz(request):
    """Database writes, broker reachability, whether a worker answers, and the app secrets'
    expiry as JSON; 503 when the database refuses writes or is down, the broker is down or a
    secret has expired. "warning" (still 200): no worker answered, or a secret expires soon."""
    report = check_all()
    return JsonResponse(report, status=503 if report["status"] == "error" else 200)


def page_not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    # No context processors can be trusted here: render the plain template.
    import sys

    from django.http import HttpResponseServerError
    from django.template import loader

    from . import maintenance

    # Django calls handler500 while handling the exception: a database outage raised outside
    # a view (e.g. the session save after sign-in) gets the maintenance page too.
    response = maintenance.response_for(sys.exc_info()[1])
    if response is not None:
        return response
    return HttpResponseServerError(loader.get_template("500.html").render())
