"""The data-handling statement: for members (the portal's, or one connection's), and public."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tenants.access import member_required, scoped

from . import permissions, statement
from .models import Connection


@member_required
def data_statement(request: HttpRequest) -> HttpResponse:
    connection = None
    keys = None
    if request.GET.get("connection", "").isdigit():
        connection = scoped(request, Connection, pk=int(request.GET["connection"]))
        keys = list(connection.features)
    return render(request, "connections/data_statement.html",
                  {"statement": statement.build(keys), "connection": connection, "public": False})


def data_statement_public(request: HttpRequest) -> HttpResponse:
    """Read-only and without an account, so a tenant admin can read it before granting.

    `?features=a,b` narrows it to those features (a consent link points here with its
    connection's): feature keys are the catalog's public names, so the URL carries no token, no
    connection id and nothing secret, and it can sit in access logs and browser history."""
    keys = None
    if "features" in request.GET:
        keys = [k for k in request.GET["features"].split(",") if k in permissions.FEATURES]
    return render(request, "connections/data_statement.html",
                  {"statement": statement.build(keys), "connection": None, "public": True})
