"""The connection's "User mapping" page: counts, the filterable list, and the admin forms."""

import csv

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from tenants.access import admin_required, member_required, scoped
from tenants.audit import audit_record
from tenants.models import AuditAction

from ..models import Connection, ManualMapping, OrganizationMatchingSettings, SyncRun, UserMatchingState
from . import selectors, services
from .forms import EmailStorageForm, FilterForm, IdentityModeForm, ManualMappingForm

PAGE_SIZE = 50


def _filtered(request, connection):
    """The accounts the list's filters (in the query string) select, and the filter form."""
    rows = connection.user_matches.all()
    filters = FilterForm(request.GET or None)
    if filters.is_valid():
        show, q = filters.cleaned_data["show"], filters.cleaned_data["q"].strip()
        if show.startswith("matched:"):
            rows = rows.filter(outcome="matched", method=show.split(":", 1)[1])
        elif show:
            rows = rows.filter(outcome=show)
        if q:
            rows = rows.filter(Q(display_name__icontains=q) | Q(account_id=q))
    return rows, filters


def _page(request, connection, **forms):
    # Read only: a GET creates nothing (the first run or the first setting does).
    state = UserMatchingState.objects.filter(connection=connection).first() or UserMatchingState(connection=connection)
    counts = {row["outcome"]: row["n"] for row in connection.user_matches.values("outcome").annotate(n=Count("id"))}
    by_method = {
        row["method"]: row["n"]
        for row in connection.user_matches.filter(outcome="matched").values("method").annotate(n=Count("id"))
    }
    rows, filters = _filtered(request, connection)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    shown = [r.microsoft_user_id for r in page.object_list] + [c for r in page.object_list for c in r.candidates or []]
    names = selectors.microsoft_user_names(connection, shown)
    for row in page.object_list:
        row.microsoft_name, row.microsoft_upn = names.names.get(row.microsoft_user_id, ("", ""))
        row.candidate_names = [(c, *names.names.get(c, ("", ""))) for c in row.candidates or []]
    manual = set(
        ManualMapping.objects.filter(
            connection=connection, account_id__in=[r.account_id for r in page.object_list]
        ).values_list("account_id", flat=True)
    )
    org_settings = OrganizationMatchingSettings.objects.filter(organization=connection.organization).first()
    last_run = SyncRun.objects.filter(connection=connection, kind=SyncRun.Kind.USER_MATCHING).first()
    context = {
        "connection": connection,
        "state": state,
        "counts": counts,
        "by_method": by_method,
        "total": sum(counts.values()),
        "page": page,
        "manual": manual,
        "filters": filters,
        "names_problem": names.problem,
        "last_run": last_run,
        "store_emails": bool(org_settings and org_settings.store_emails),
        "identity_form": forms.get("identity_form")
        or IdentityModeForm(
            initial={
                "identity_mode": state.identity_mode,
                "upn_pattern": state.upn_pattern,
                "upn_replacement": state.upn_replacement,
            }
        ),
        # "map…" on a row opens the manual mapping form with that account filled in.
        "mapping_form": forms.get("mapping_form")
        or ManualMappingForm(initial={"account_id": request.GET.get("map", "")}),
        "storage_form": EmailStorageForm(initial={"store_emails": bool(org_settings and org_settings.store_emails)}),
    }
    return render(request, "connections/user_mapping.html", context, status=400 if forms else 200)


@member_required
def user_mapping(request, connection_id):
    return _page(request, scoped(request, Connection, pk=connection_id))


@member_required
@require_GET
def user_mapping_export(request, connection_id):
    """The list as CSV, with the same filters; emails only where the organization stores them."""
    connection = scoped(request, Connection, pk=connection_id)
    rows, _filters = _filtered(request, connection)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="user-mapping-{connection.pk}.csv"'
    writer = csv.writer(response)
    writer.writerow(["atlassian_account_id", "display_name", "email", "outcome", "method", "microsoft_user_id"])
    count = 0
    for row in rows.order_by("display_name", "account_id").iterator():
        writer.writerow([_cell(v) for v in (row.account_id, row.display_name, row.email, row.get_outcome_display(),
                                            row.get_method_display() if row.method else "", row.microsoft_user_id)])
        count += 1
    audit_record(organization=connection.organization, action=AuditAction.USER_MAPPING_EXPORTED,
                 actor=request.user, target=connection, details={"rows": count, "filters": request.GET.dict()})
    return response


def _cell(value):
    """A spreadsheet must not run a display name as a formula (=, +, -, @ at the start)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


@admin_required
@require_POST
def identity_mode(request, connection_id):
    connection = scoped(request, Connection, pk=connection_id)
    form = IdentityModeForm(request.POST)
    if form.is_valid():
        try:
            run = services.identity_mode_set(connection=connection, acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                "Identity mode saved. "
                + ("A full run was started to apply it." if run else "The next full run applies it."),
            )
            return redirect("connections:user_mapping", connection_id=connection.pk)
    return _page(request, connection, identity_form=form)


@admin_required
@require_POST
def manual_mapping(request, connection_id):
    connection = scoped(request, Connection, pk=connection_id)
    if request.POST.get("clear"):
        account_id = request.POST.get("account_id", "")
        if services.manual_mapping_clear(connection=connection, account_id=account_id, acting_user=request.user):
            messages.success(request, "Manual mapping removed; the account is matched automatically again.")
        else:
            messages.info(request, "That account had no manual mapping.")
        return redirect("connections:user_mapping", connection_id=connection.pk)
    form = ManualMappingForm(request.POST)
    if form.is_valid():
        try:
            services.manual_mapping_set(connection=connection, acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Manual mapping saved. Later runs keep it.")
            return redirect("connections:user_mapping", connection_id=connection.pk)
    return _page(request, connection, mapping_form=form)


@admin_required
@require_POST
def email_storage(request, connection_id):
    connection = scoped(request, Connection, pk=connection_id)
    form = EmailStorageForm(request.POST)
    form.is_valid()  # a checkbox: absent means off
    store = bool(form.cleaned_data.get("store_emails"))
    services.email_storage_set(organization=request.organization, store_emails=store, acting_user=request.user)
    messages.success(
        request,
        "Email addresses will be stored from the next run on."
        if store
        else "Email addresses are not stored; the ones stored before were removed.",
    )
    return redirect("connections:user_mapping", connection_id=connection.pk)
