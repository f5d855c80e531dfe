"""The admin pages' one way to update in place, the user pages' way (templates/classifier/_poll.html):
htmx asks a fragment URL every 2 s (static/js/app.js skips the ticks of a hidden tab), the answer is the
same include the full page renders, and HTTP 286 stops the polling once the work has ended. That last
answer also asks htmx to load the page once (HX-Refresh), for what only an ended run shows: its scores
and buttons."""

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseStopPolling


def _stop_and_reload() -> HttpResponse:
    response = HttpResponseStopPolling()
    response["HX-Refresh"] = "true"
    return response


def poll_view(model_admin, view):
    """`view` behind the admin's checks. A signed-out person (or one no longer staff) gets a stop and a
    reload, which shows them the admin's login page; staff without the right to see the model, a 403."""

    @login_not_required
    @never_cache
    @require_GET
    def polled(request, *args, **kwargs):
        if not model_admin.admin_site.has_permission(request):
            return _stop_and_reload()
        if not model_admin.has_view_permission(request):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return polled


def poll_answer(request, template: str, context: dict, *, going_on: bool) -> HttpResponse:
    """The fragment; once the work has ended, with the stop (286) and a reload of the page."""
    if not going_on:
        return _stop_and_reload()
    return TemplateResponse(request, template, context)
