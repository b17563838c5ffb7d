from django.shortcuts import render
from django.views.decorators.http import require_GET

from . import access


@require_GET
def home(request):
    layers = access.layers_for(request.user).select_related("owner").order_by("access", "slug")
    response = render(request, "layers/home.html", {"layers": layers})
    response["Cache-Control"] = "private, no-cache"
    return response
