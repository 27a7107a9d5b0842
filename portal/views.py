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
    """Database and broker reachability and the app secrets' expiry as JSON; 503 when
    either is down or a secret has expired ("warning" within the warning days stays 200)."""
    report = check_all()
    return JsonResponse(report, status=503 if report["status"] == "error" else 200)


def page_not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    # No context processors can be trusted here: render the plain template.
    from django.http import HttpResponseServerError
    from django.template import loader

    return HttpResponseServerError(loader.get_template("500.html").render())
