"""Web pages of the POI change sets: submit a file or one POI, review, apply, revert, history,
export and the currency report. Every operation is the library's (changesets, apply, history,
currency), the same the `geoplatform poi` command runs; these views only collect input and show
results. The JSON API is in api.py."""

import csv
import datetime as dt
import tempfile
from contextlib import contextmanager
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, SuspiciousFileOperation
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from layers import access, audit
from layers.errors import InvalidInput, PlatformError
from layers.models import Access, Layer, Permission

from . import apply, changesets, currency, history, store
from .forms import PoiForm, StatusFilter, SubmitForm
from .models import ChangeItem, ChangeSet

ITEMS_PER_PAGE = 100  # a page's checkboxes stay below DATA_UPLOAD_MAX_NUMBER_FIELDS
CHANGESETS_PER_PAGE = 50
MAX_MAP_POINTS = 5000

# The library's refusal reasons (validate.REASONS), as reviewers read them.
REASON_LABELS = {
    "unknown_op": gettext_lazy("unknown operation"),
    "missing_id": gettext_lazy("POI id missing"),
    "bad_id": gettext_lazy("invalid POI id"),
    "unknown_id": gettext_lazy("no current POI has this id"),
    "id_exists": gettext_lazy("a POI with this id exists already"),
    "duplicate_id": gettext_lazy("the same POI id is on an earlier row"),
    "duplicate_row": gettext_lazy("the same row appears earlier"),
    "missing_name": gettext_lazy("name missing"),
    "missing_category": gettext_lazy("category missing"),
    "unknown_category": gettext_lazy("unknown category"),
    "bad_rating": gettext_lazy("rating not valid for the category"),
    "missing_coordinates": gettext_lazy("coordinates missing"),
    "bad_coordinates": gettext_lazy("invalid coordinates"),
    "outside_region": gettext_lazy("outside the platform's region"),
    "bad_phone": gettext_lazy("invalid phone number"),
    "bad_date": gettext_lazy("invalid or future date"),
    "bad_status": gettext_lazy("invalid status"),
    "bad_url": gettext_lazy("invalid photo URL"),
    "too_long": gettext_lazy("value too long"),
}
# Where a refusal of the single-POI form belongs.
REASON_FIELDS = {
    "missing_name": "name", "missing_category": "category", "unknown_category": "category", "bad_rating": "rating",
    "missing_coordinates": "lon", "bad_coordinates": "lon", "outside_region": "lon", "bad_phone": "phone",
    "bad_status": "status", "bad_url": "photos",
}


# --- who may do what ------------------------------------------------------------------------

def poi_layer() -> Layer:
    return store.ensure_layer()


def may_view(user, layer: Layer) -> bool:
    """Change sets are seen by whoever may edit the POI layer, and by its reviewers."""
    return user.is_authenticated and (access.can(user, layer, Permission.EDIT) or is_reviewer(user, layer))


def is_reviewer(user, layer: Layer) -> bool:
    try:
        apply.require_reviewer(user, layer)
    except PlatformError:
        return False
    return True


def _viewer_layer(request) -> Layer:
    layer = poi_layer()
    if not may_view(request.user, layer):
        raise PermissionDenied(_("Change sets of points of interest are for editors and reviewers of the POI layer."))
    return layer


def refusal_rows(refused: list[dict]) -> list[dict]:
    """Refused rows ({row, reasons, message}) with the reasons in the reader's language."""
    return [r | {"labels": [str(REASON_LABELS.get(code, code)) for code in r.get("reasons", [])]} for r in refused]


def _private(response):
    patch_vary_headers(response, ["Cookie", "Authorization", "Accept-Language"])
    response["Cache-Control"] = "private, no-cache"
    return response


@contextmanager
def _on_disk(name: str, chunks):
    """The upload in a temporary folder under a safe version of its own name (the reader goes by
    the suffix); removed afterwards."""
    try:
        safe = get_valid_filename(Path(name).name)
    except SuspiciousFileOperation:
        safe = "upload" + Path(name).suffix.lower()
    with tempfile.TemporaryDirectory(prefix="poi-") as folder:
        path = Path(folder) / safe
        with path.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
        yield path


@contextmanager
def _one_row_file(values: dict[str, str]):
    """A CSV of one row (header = row 1), so one POI takes the same path as a file."""
    with tempfile.TemporaryDirectory(prefix="poi-") as folder:
        path = Path(folder) / "poi.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(list(values))
            writer.writerow(list(values.values()))
        yield path


# --- change sets ----------------------------------------------------------------------------

@login_required
@require_GET
def changeset_list(request):
    layer = poi_layer()
    if not may_view(request.user, layer):
        # The navigation's entry point: users of other departments see what they may, the currency report.
        return redirect("poi-currency")
    form = StatusFilter(request.GET or None)
    qs = ChangeSet.objects.filter(layer_slug=layer.slug).select_related("submitted_by")
    status = form.cleaned_data["status"] if form.is_valid() else ""
    if status:
        qs = qs.filter(status=status)
    page = Paginator(qs, CHANGESETS_PER_PAGE).get_page(request.GET.get("page"))
    return _private(render(request, "poi/changesets.html", {
        "form": form, "page": page, "status": status, "layer": layer,
        "reviewer": is_reviewer(request.user, layer),
    }))


@login_required
@require_http_methods(["GET", "POST"])
def submit(request):
    layer = _viewer_layer(request)
    form = SubmitForm(request.POST or None, request.FILES or None)
    context = {"form": form, "layer": layer}
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        upload = d["file"]
        try:
            with _on_disk(upload.name, upload.chunks()) as path:
                result = changesets.submit(path, request.user, crs=d["crs"], encoding=d["encoding"] or None,
                                           max_invalid=d["max_invalid"], note=d["note"], source_name=upload.name)
        except changesets.RejectedSubmission as exc:
            # The library's own summary is English; the page says it in the reader's language.
            context["refused"] = refusal_rows([r.as_dict() for r in exc.refusals])
            return _private(render(request, "poi/submit.html", context, status=exc.http_status))
        except PlatformError as exc:
            context["error"] = str(exc)
            return _private(render(request, "poi/submit.html", context, status=exc.http_status))
        _submitted_message(request, result)
        return redirect("poi-changeset", pk=result.changeset.pk)
    return _private(render(request, "poi/submit.html", context, status=400 if form.errors else 200))


def _submitted_message(request, result):
    cs = result.changeset
    messages.success(request, _("Change set %(id)s submitted: %(items)s items, %(refused)s rows refused, "
                                "%(flagged)s possible duplicates flagged.") % {
        "id": cs.pk, "items": cs.report.get("items", 0), "refused": len(result.refusals),
        "flagged": cs.report.get("duplicates_flagged", 0)})


def _detail_context(request, cs: ChangeSet, layer: Layer) -> dict:
    user = request.user
    decision = request.GET.get("decision", "")
    items = cs.items.all()
    if decision in ChangeItem.Decision.values:
        items = items.filter(decision=decision)
    elif decision == "flagged":
        items = items.exclude(duplicates=[])
    page = Paginator(items, ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    counts = dict(cs.items.values_list("decision").annotate(n=Count("id")).values_list("decision", "n"))
    reviewer = is_reviewer(user, layer)
    # A display hint only: the library refuses self-review itself (changesets._for_review).
    own = cs.submitted_by_id == user.pk and not user.is_superuser and not store.config().get("ALLOW_SELF_REVIEW")
    return {
        "cs": cs, "page": page, "decision": decision, "layer": layer,
        "counts": [(value, label, counts.get(value, 0)) for value, label in ChangeItem.Decision.choices],
        "flagged": cs.items.exclude(duplicates=[]).count(),
        "refused": refusal_rows(cs.report.get("refused", [])),
        "ignored_columns": cs.report.get("ignored_columns", []),
        "offset": cs.offset_flag,
        "reviewer": reviewer,
        "own": own,
        "can_decide": reviewer and cs.status == ChangeSet.Status.REVIEW and not own,
        "can_apply": reviewer and cs.status == ChangeSet.Status.REVIEW,
        "can_revert": reviewer and cs.status == ChangeSet.Status.APPLIED,
        "reverted_by": cs.report.get("reverted_by"),
        "revert_conflicts": cs.report.get("revert_conflicts") or cs.report.get("conflicts") or [],
        "versions": cs.versions.count() if cs.status in (ChangeSet.Status.APPLIED, ChangeSet.Status.REVERTED) else None,
    }


@login_required
@require_GET
def changeset_detail(request, pk):
    layer = _viewer_layer(request)
    cs = get_object_or_404(ChangeSet.objects.select_related("submitted_by", "applied_by", "reverts"), pk=pk,
                           layer_slug=layer.slug)
    return _private(render(request, "poi/changeset.html", _detail_context(request, cs, layer)))


def _action(request, pk, run):
    """Run one review operation; on a refusal show the change set again with the reason (and the
    conflicts) under the error's HTTP status, else go back to it."""
    layer = _viewer_layer(request)
    cs = get_object_or_404(ChangeSet, pk=pk, layer_slug=layer.slug)
    try:
        target = run()
    except PlatformError as exc:
        cs.refresh_from_db()
        context = _detail_context(request, cs, layer) | {
            "error": str(exc).split("\n", 1)[0] if hasattr(exc, "conflicts") else str(exc),
            "conflicts": getattr(exc, "conflicts", None),
        }
        return _private(render(request, "poi/changeset.html", context, status=exc.http_status))
    return redirect("poi-changeset", pk=target or pk)


def _posted_rows(request) -> list[int]:
    try:
        return [int(v) for v in request.POST.getlist("rows") if v.strip()]
    except ValueError:
        raise InvalidInput(_("Items are row numbers of the submitted file.")) from None


@login_required
@require_POST
def changeset_decide(request, pk, decision):
    everything = request.POST.get("all") == "1"
    comment = request.POST.get("comment", "")

    def run():
        rows = [] if everything else _posted_rows(request)
        if decision == "approve":
            out = changesets.approve(pk, request.user, rows_=rows, everything=everything, comment=comment)
            messages.success(request, _("%(n)s items approved.") % {"n": out["approved"]})
            if out["left_for_review"]:
                messages.warning(request, _("Possible duplicates need a decision each (approve by row, merge or "
                                            "reject): rows %(rows)s") % {
                    "rows": ", ".join(map(str, out["left_for_review"]))})
        else:
            out = changesets.reject(pk, request.user, rows_=rows, everything=everything, comment=comment)
            messages.success(request, _("%(n)s items rejected.") % {"n": out["rejected"]})

    return _action(request, pk, run)


@login_required
@require_POST
def changeset_merge(request, pk):
    def run():
        try:
            row = int(request.POST.get("row", ""))
        except ValueError:
            raise InvalidInput(_("Items are row numbers of the submitted file.")) from None
        into = request.POST.get("into", "").strip()
        if not into:
            raise InvalidInput(_("Merge into which POI (its id) or row (row:N)?"))
        changesets.merge(pk, request.user, row=row, into=into, comment=request.POST.get("comment", ""))
        messages.success(request, _("Row %(row)s merged into %(into)s.") % {"row": row, "into": into})

    return _action(request, pk, run)


@login_required
@require_POST
def changeset_apply(request, pk):
    def run():
        cs = apply.apply(pk, request.user, accept_offset=request.POST.get("accept_offset") == "1")
        messages.success(request, _("Change set %(id)s: %(status)s.") % {"id": cs.pk,
                                                                         "status": cs.get_status_display()})

    return _action(request, pk, run)


@login_required
@require_POST
def changeset_revert(request, pk):
    def run():
        back = apply.revert(pk, request.user, skip_conflicts=request.POST.get("skip_conflicts") == "1")
        messages.success(request, _("Change set %(id)s reverted by change set %(back)s (%(n)s POIs restored).") % {
            "id": pk, "back": back.pk, "n": back.report.get("reverted", 0)})
        return back.pk

    return _action(request, pk, run)


# --- one POI --------------------------------------------------------------------------------

def _refusal_errors(refusals) -> list[tuple[str | None, str]]:
    """(form field or None, message) for each reason of each refused row."""
    errors = []
    for r in refusals:
        for code, message in zip(r.reasons, r.messages):
            errors.append((REASON_FIELDS.get(code), f"{REASON_LABELS.get(code, code)} ({message.split(': ', 1)[-1]})"))
    return errors


def _submit_one(request, values: dict, label: str, *, crs: str, note: str):
    """Submit one row as a change set of one item: (redirect to it, 200, []) or (None, status, errors)."""
    try:
        with _one_row_file(values) as path:
            result = changesets.submit(path, request.user, crs=crs, max_invalid=0, note=note, source_name=label)
    except changesets.RejectedSubmission as exc:
        return None, exc.http_status, _refusal_errors(exc.refusals)
    except PlatformError as exc:
        return None, exc.http_status, [(None, str(exc))]
    _submitted_message(request, result)
    return redirect("poi-changeset", pk=result.changeset.pk), 200, []


@login_required
@require_http_methods(["GET", "POST"])
def poi_new(request):
    layer = _viewer_layer(request)
    form = PoiForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            d = form.cleaned_data
            response, status, errors = _submit_one(request, form.row(), f"web form: add {d['name']}",
                                                   crs=d["crs"], note=d["note"])
            if response:
                return response
            for field, message in errors:
                form.add_error(field, message)
    return _private(render(request, "poi/poi_form.html", {"form": form, "layer": layer, "poi": None}, status=status))


def _initial(poi: dict) -> dict:
    initial = {f: poi.get(f) for f in PoiForm.COLUMNS if poi.get(f) is not None}
    for f in ("lon", "lat"):
        if poi.get(f) is not None:
            initial[f] = round(poi[f], 7)
    return initial | {"crs": "CGCS2000"}


@login_required
@require_http_methods(["GET", "POST"])
def poi_edit(request, poi_id):
    layer = _viewer_layer(request)
    poi = store.current([poi_id]).get(poi_id)
    if poi is None:
        raise Http404("no current POI with this id")
    deleting = request.method == "POST" and request.POST.get("delete") == "1"
    form = PoiForm(request.POST if request.method == "POST" and not deleting else None, initial=_initial(poi),
                   editing=True)
    status, delete_errors = 200, []
    if deleting:
        response, status, errors = _submit_one(request, {"op": "delete", "id": poi_id},
                                               f"web form: delete {poi_id} {poi.get('name') or ''}",
                                               crs="CGCS2000", note=request.POST.get("note", ""))
        if response:
            return response
        delete_errors = [message for _field, message in errors]
    elif request.method == "POST":
        status = 400
        if form.is_valid():
            values = form.row(poi_id)
            if len(values) <= 2:  # op and id only
                form.add_error(None, _("Nothing was changed."))
            else:
                d = form.cleaned_data
                response, status, errors = _submit_one(request, values,
                                                       f"web form: update {poi_id} {poi.get('name') or ''}",
                                                       crs=d["crs"], note=d["note"])
                if response:
                    return response
                for field, message in errors:
                    form.add_error(field, message)
    return _private(render(request, "poi/poi_form.html", {"form": form, "layer": layer, "poi": poi,
                                                          "delete_errors": delete_errors}, status=status))


@login_required
@require_GET
def poi_history(request, poi_id):
    layer = _viewer_layer(request)
    versions = history.versions_of(poi_id)
    if not versions:
        raise Http404("no POI with this id")
    for v in versions:
        v["valid_from"] = dt.datetime.fromisoformat(v["valid_from"])
        v["valid_to"] = dt.datetime.fromisoformat(v["valid_to"]) if v["valid_to"] else None
        v["change_list"] = [(k, before, after) for k, (before, after) in v["changes"].items()]
    current = store.current([poi_id]).get(poi_id)
    return _private(render(request, "poi/history.html", {
        "poi_id": poi_id, "versions": versions, "current": current, "layer": layer,
        "name": (versions[-1]["data"] or {}).get("name"),
    }))


# --- export and currency --------------------------------------------------------------------

def _readable_layer(request, permission: Permission, *, missing_ok: bool = False) -> Layer | None:
    """The POI layer if the caller may read it at `permission`: not visible is 404 (like a
    missing layer), visible but not downloadable is 403. Before the first change set there is
    no layer: None with `missing_ok` (nothing to show), else 404."""
    layer = store.get_layer()
    if layer is None and missing_ok:
        return None
    if layer is None or not access.can(request.user, layer, Permission.VIEW):
        raise Http404("no POI layer")
    if not access.can(request.user, layer, permission):
        raise PermissionDenied(_("Downloading the POIs needs the download permission."))
    return layer


def _error(exc: PlatformError) -> JsonResponse:
    return JsonResponse({"code": exc.code, "description": str(exc)}, status=exc.http_status,
                        json_dumps_params={"ensure_ascii": False})


EXPORT_TYPES = {"geojson": "application/geo+json", "csv": "text/csv; charset=utf-8"}


@require_GET
def export(request):
    """The POIs now, or as of a moment (`as_of=YYYY-MM-DD`: the end of that day), streamed."""
    layer = _readable_layer(request, Permission.DOWNLOAD)
    fmt = request.GET.get("format", "geojson")
    as_of_text = request.GET.get("as_of", "").strip()
    try:
        moment = history.parse_moment(as_of_text) if as_of_text else None
        body = history.export(fmt, moment)
    except PlatformError as exc:
        return _private(_error(exc))
    audit.record(request.user, "poi.export", layer, via=getattr(request, "auth_via", "web"), format=fmt,
                 as_of=moment.isoformat() if moment else "")
    response = StreamingHttpResponse(body, content_type=EXPORT_TYPES[fmt])
    suffix = f"-{as_of_text[:10]}" if as_of_text else ""
    response["Content-Disposition"] = f'attachment; filename="{layer.slug}{suffix}.{fmt}"'
    return _private(response)


def _stale_days(request) -> int | None:
    text = request.GET.get("stale_days", "").strip()
    if not text:
        return None
    try:
        days = int(text)
        if days < 0:
            raise ValueError
    except ValueError:
        raise InvalidInput(_("stale_days must be a whole number of days")) from None
    return days


@require_GET
def currency_page(request):
    """Verification age per county and category, the stale POIs (table and map), CSV downloads."""
    fmt = request.GET.get("format", "")
    layer = _readable_layer(request, Permission.DOWNLOAD if fmt else Permission.VIEW, missing_ok=True)
    try:
        report = currency.report(_stale_days(request))
    except PlatformError as exc:
        return _private(_error(exc))
    if fmt in ("csv", "stale-csv"):
        body = currency.groups_csv(report) if fmt == "csv" else currency.stale_csv(report)
        response = HttpResponse(body.encode("utf-8"), content_type="text/csv; charset=utf-8")
        name = "poi-currency" if fmt == "csv" else "poi-stale"
        response["Content-Disposition"] = f'attachment; filename="{name}-{report["today"]}.csv"'
        return _private(response)
    if fmt:
        return _private(_error(InvalidInput(_("format must be csv or stale-csv"))))
    buckets = [b for b, _upper in currency.BUCKETS] + [currency.NEVER]
    groups = [g | {"counts": [g[b] for b in buckets]} for g in report["groups"]]
    totals = [sum(g[b] for g in report["groups"]) for b in buckets]
    if layer is not None and layer.access != Access.PUBLIC:
        audit.record(request.user, "poi.currency", layer, via=getattr(request, "auth_via", "web"),
                     stale=len(report["stale"]))
    return _private(render(request, "poi/currency.html", {
        "report": report, "groups": groups, "totals": totals, "layer": layer,
        "bucket_labels": [BUCKET_LABELS.get(b, b) for b in buckets],
        "stale": report["stale"][:1000], "stale_more": max(0, len(report["stale"]) - 1000),
        "map_points": [{k: s[k] for k in ("poi_id", "name", "category", "verified_at", "age_days", "lon", "lat")}
                       for s in report["stale"][:MAX_MAP_POINTS]],
        "query": request.GET.urlencode(),
        "may_edit": layer is not None and may_view(request.user, layer), "currency_page": True,
    }))


BUCKET_LABELS = {
    "0-6m": gettext_lazy("under 6 months"),
    "6-12m": gettext_lazy("6–12 months"),
    "1-2y": gettext_lazy("1–2 years"),
    "2y+": gettext_lazy("over 2 years"),
    "never": gettext_lazy("never verified"),
}

