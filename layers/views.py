from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from . import access
from .models import Permission


def _private(response):
    response["Cache-Control"] = "private, no-cache"
    response["Vary"] = "Cookie, Authorization, Accept-Language"
    return response


@require_GET
def home(request):
    layers = access.layers_for(request.user).select_related("owner").order_by("access", "slug")
    return _private(render(request, "layers/home.html", {"layers": layers}))


@require_GET
def layer_page(request, slug):
    layer = get_object_or_404(access.layers_for(request.user).select_related("owner"), slug=slug)
    permission = access.permission_of(request.user, layer)
    grants = layer.grants.select_related("department") if permission == Permission.MANAGE else None
    extent = ", ".join(f"{v:.6f}" for v in layer.extent.extent) if layer.extent else ""
    context = {"layer": layer, "permission": permission, "grants": grants, "extent": extent}
    return _private(render(request, "layers/layer.html", context))
