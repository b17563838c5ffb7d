"""The POI change sets as JSON at /api/poi/, for scripts with an API token (`Authorization: Token …`).

The same operations as the pages and the `geoplatform poi` command, through the same library.
Errors are {"code", "description"} with the error's HTTP status; a refused submission also lists
every refused row, a conflict every conflict. Token requests are exempt from CSRF (the token
middleware marks them); session requests are not.
"""

import functools
import json

from django.http import Http404, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from layers.errors import Forbidden, InvalidInput, NotFound, PlatformError

from . import apply, changesets, currency, history
from .models import ChangeSet
from .views import _on_disk, _private, is_reviewer, may_view, poi_layer, refusal_rows

GEOJSON_TYPES = ("application/geo+json", "application/json")


def _json(data, status=200) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


def _error(status: int, code: str, description: str, **extra) -> JsonResponse:
    return _json({"code": code, "description": description} | extra, status=status)


def api_view(*methods):
    """Authenticated callers who may see the POI change sets; typed errors → JSON with their status."""

    def decorate(func):
        @functools.wraps(func)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = _error(405, "MethodNotAllowed", _("Use %(methods)s.") % {"methods": ", ".join(methods)})
                response["Allow"] = ", ".join(methods)
                return response
            if not request.user.is_authenticated:
                response = _error(401, "NotAuthenticated",
                                  _("Log in or send an API token (Authorization: Token …)."))
                response["WWW-Authenticate"] = 'Token realm="geoplatform"'
                return _private(response)
            try:
                layer = poi_layer()
                if not may_view(request.user, layer):
                    raise Forbidden(_("Change sets of points of interest are for editors and reviewers of the POI "
                                      "layer."))
                response = func(request, *args, **kwargs)
            except changesets.RejectedSubmission as exc:
                response = _error(exc.http_status, exc.code, str(exc),
                                  refused=refusal_rows([r.as_dict() for r in exc.refusals]))
            except apply.ApplyConflict as exc:
                response = _error(exc.http_status, exc.code, str(exc), conflicts=exc.conflicts)
            except PlatformError as exc:
                response = _error(exc.http_status, exc.code, str(exc))
            except Http404 as exc:
                response = _error(404, "NotFound", str(exc) or "not found")
            return _private(response)

        return wrapper

    return decorate


def _changeset(pk: int) -> ChangeSet:
    cs = (ChangeSet.objects.select_related("submitted_by", "applied_by")
          .filter(pk=pk, layer_slug=poi_layer().slug).first())
    if cs is None:
        raise NotFound(f"change set {pk} does not exist")
    return cs


def changeset_summary(request, cs: ChangeSet) -> dict:
    return {
        "id": cs.pk, "kind": cs.kind, "status": cs.status, "file": cs.source_name, "crs": cs.origin_crs,
        "note": cs.note, "submitted_by": cs.submitted_by.get_username(), "submitted_at": cs.submitted_at.isoformat(),
        "applied_by": cs.applied_by.get_username() if cs.applied_by else None,
        "applied_at": cs.applied_at.isoformat() if cs.applied_at else None,
        "reverts": cs.reverts_id, "reverted_by": cs.report.get("reverted_by"),
        "items": cs.report.get("items"), "refused": len(cs.report.get("refused", [])),
        "links": [
            {"rel": "self", "type": "application/json",
             "href": request.build_absolute_uri(reverse("api-poi-changeset", args=[cs.pk]))},
            {"rel": "alternate", "type": "text/html",
             "href": request.build_absolute_uri(reverse("poi-changeset", args=[cs.pk]))},
        ],
    }


def _body(request) -> dict:
    """A JSON object body, or the form fields (`rows` may repeat or be comma-separated)."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError as e:
            raise InvalidInput(f"the body is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise InvalidInput("the body must be a JSON object")
        return data
    data = {k: request.POST.get(k) for k in request.POST}
    if "rows" in request.POST:
        data["rows"] = [v for value in request.POST.getlist("rows") for v in value.split(",") if v.strip()]
    return data


def _flag(value) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes", "on")


def _int(value, name: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be an integer (a row number of the submitted file)") from None


@api_view("GET", "POST")
def changesets_view(request):
    if request.method == "GET":
        qs = ChangeSet.objects.filter(layer_slug=poi_layer().slug).select_related("submitted_by", "applied_by")
        status = request.GET.get("status")
        if status:
            if status not in ChangeSet.Status.values:
                raise InvalidInput(f"status must be one of {', '.join(ChangeSet.Status.values)}")
            qs = qs.filter(status=status)
        limit = min(max(_int(request.GET.get("limit", 50), "limit"), 1), 500)
        return _json({"changesets": [changeset_summary(request, cs) for cs in qs[:limit]]})
    return _submit(request)


def _submit(request):
    params = request.GET.copy()
    params.update(request.POST)
    options = {
        "crs": params.get("crs") or "CGCS2000",
        "encoding": params.get("encoding") or None,
        "max_invalid": _int(params.get("max_invalid", 0), "max_invalid"),
        "note": params.get("note", ""),
    }
    if options["max_invalid"] < 0:
        raise InvalidInput("max_invalid must not be negative")
    upload = request.FILES.get("file")
    if upload is not None:
        name, chunks = upload.name, upload.chunks()
    elif request.content_type in GEOJSON_TYPES:
        # Read the stream (not request.body): a large batch must not meet the in-memory body limit.
        name = params.get("name") or "api.geojson"
        if not name.lower().endswith((".geojson", ".json")):
            name += ".geojson"
        chunks = iter(lambda: request.read(65536), b"")
    else:
        raise InvalidInput("send the file as multipart/form-data (field `file`: CSV, XLSX or GeoJSON) or a GeoJSON "
                           "body (Content-Type: application/geo+json)")
    with _on_disk(name, chunks) as path:
        result = changesets.submit(path, request.user, source_name=name, **options)
    cs = result.changeset
    data = changeset_summary(request, cs) | {
        "refused": refusal_rows([r.as_dict() for r in result.refusals]),
        "duplicates_flagged": cs.report.get("duplicates_flagged", 0),
        "ignored_columns": cs.report.get("ignored_columns", []),
        "offset": cs.offset_flag,
    }
    response = _json(data, status=201)
    response["Location"] = data["links"][0]["href"]
    return response


@api_view("GET")
def changeset_view(request, pk):
    cs = _changeset(pk)
    return _json(changeset_summary(request, cs) | {
        "report": cs.report, "offset": cs.offset_flag, "offset_accepted": cs.offset_accepted,
        "refused": refusal_rows(cs.report.get("refused", [])),
        "your_role": "reviewer" if is_reviewer(request.user, poi_layer()) else "editor",
        "items": [{"row": i.row, "op": i.op, "poi_id": i.poi_id, "decision": i.decision, "merged_into": i.merged_into,
                   "comment": i.comment, "data": i.data, "lon": i.lon, "lat": i.lat, "duplicates": i.duplicates}
                  for i in cs.items.all()],
    })


def _decision(request, pk, run):
    _changeset(pk)
    body = _body(request)
    everything = _flag(body.get("all", False))
    rows = body.get("rows") or []
    if not isinstance(rows, list):
        raise InvalidInput("rows must be a list of row numbers")
    rows = [_int(r, "rows") for r in rows]
    return _json(run(pk, request.user, rows_=rows, everything=everything, comment=str(body.get("comment", ""))))


@api_view("POST")
def approve_view(request, pk):
    return _decision(request, pk, changesets.approve)


@api_view("POST")
def reject_view(request, pk):
    return _decision(request, pk, changesets.reject)


@api_view("POST")
def merge_view(request, pk):
    _changeset(pk)
    body = _body(request)
    row, into = _int(body.get("row"), "row"), str(body.get("into") or "").strip()
    if not into:
        raise InvalidInput("into: the id of an existing POI, or row:N for another item of the change set")
    item = changesets.merge(pk, request.user, row=row, into=into, comment=str(body.get("comment", "")))
    return _json({"changeset": pk, "row": item.row, "decision": item.decision, "merged_into": item.merged_into})


@api_view("POST")
def apply_view(request, pk):
    _changeset(pk)
    body = _body(request)
    cs = apply.apply(pk, request.user, accept_offset=_flag(body.get("accept_offset", False)))
    return _json(changeset_summary(request, _changeset(cs.pk)) | {"versions": cs.versions.count()})


@api_view("POST")
def revert_view(request, pk):
    _changeset(pk)
    body = _body(request)
    back = apply.revert(pk, request.user, skip_conflicts=_flag(body.get("skip_conflicts", False)))
    data = changeset_summary(request, _changeset(back.pk)) | {
        "reverted": back.report.get("reverted", 0), "conflicts": back.report.get("conflicts", [])}
    response = _json(data, status=201)
    response["Location"] = data["links"][0]["href"]
    return response


@api_view("GET")
def history_view(request, poi_id):
    versions = history.versions_of(poi_id)
    if not versions:
        raise NotFound(f"no POI {poi_id!r}")
    return _json({"poi_id": poi_id, "versions": versions})


@api_view("GET")
def currency_view(request):
    days = request.GET.get("stale_days")
    return _json(currency.report(_int(days, "stale_days") if days else None))

