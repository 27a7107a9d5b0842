"""The data-handling statement: for members (the portal's, or one connection's), and public."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tenants.access import member_required, scoped

from . import statement
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
    """Read-only and without an account, so a tenant admin can read it before granting."""
    return render(request, "connections/data_statement.html",
                  {"statement": statement.build(), "connection": None, "public": True})
