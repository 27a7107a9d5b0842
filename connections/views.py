from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from tenants.access import admin_required, member_required, scoped

from . import services
from .forms import ConnectionForm
from .models import Connection


@member_required
def connection_list(request):
    connections = Connection.objects.filter(organization=request.organization).select_related("site", "tenant")
    return render(request, "connections/connection_list.html", {"connections": connections})


@admin_required
def connection_new(request):
    form = ConnectionForm(request.POST or None, organization=request.organization, initial=request.GET.dict())
    if request.method == "POST" and form.is_valid():
        try:
            connection = services.connection_create(acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{connection} created. It needs consent before it works.")
            return redirect("connections:connection_detail", connection_id=connection.pk)
    return render(request, "connections/connection_form.html", {"form": form})


@member_required
def connection_detail(request, connection_id):
    connection = scoped(request, Connection, pk=connection_id)
    events = request.organization.audit_events.filter(
        target_type="connection", target_id=str(connection.pk)
    ).select_related("actor_user")[:20]
    return render(request, "connections/connection_detail.html", {"connection": connection, "events": events})
