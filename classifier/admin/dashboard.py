"""The admin's dashboard: how the service is doing. The page (aggregates from the database, classifier/dashboard.py)
and, loaded into it and refreshed every 10 s by htmx, a fragment with the broker's side (queue depths and the
workers that answer), which may take up to a second or two and must never slow the page. Staff who may view
predictions; both are GETs that write nothing."""

from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_GET

from trainer.charts import bar_chart, line_chart

from .. import dashboard
from ..answers import VERDICT_CHOICE_NAMES


def dashboard_urls(model_admin) -> list:
    """The dashboard's URLs, under the predictions' admin (`classifier_prediction_dashboard`, `..._live`)."""

    def guarded(render):
        @require_GET
        def view(request):
            if not model_admin.has_view_permission(request):
                raise PermissionDenied
            return render(model_admin, request)

        return model_admin.admin_site.admin_view(view)

    return [
        path("dashboard/", guarded(_page), name="classifier_prediction_dashboard"),
        path("dashboard/live/", guarded(_live), name="classifier_prediction_dashboard_live"),
    ]


def _page(model_admin, request):
    now = timezone.now()
    per_hour = dashboard.counts_per_hour(now)
    summary = dashboard.daily_summary(now)
    per_day = dashboard.counts_per_day(now, summary)
    hourly = [(date_format(timezone.localtime(hour), "H:i"), n) for hour, n in per_hour]
    daily = [(date_format(day, "j M"), n) for day, n in per_day]
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Dashboard",
        "per_hour": bar_chart(hourly, label_every=6),
        "per_day": bar_chart(daily, label_every=5),
        "per_hour_title": f"Predictions per hour, last {dashboard.HOURS} hours",
        "per_day_title": f"Predictions per day, last {dashboard.DAYS} days",
        "hour_total": sum(n for _, n in per_hour),
        "day_total": sum(n for _, n in per_day),
        "timings": dashboard.timings(now),
        "failures": dashboard.failures(now),
        "mix": [
            {**row, "name": VERDICT_CHOICE_NAMES.get(row["verdict"], row["verdict"])}
            for row in dashboard.answer_mix(now, summary)
        ],
        "confidence": [_confidence_chart(item) for item in dashboard.confidence_by_version(now, summary)],
        "drift_psi": dashboard.DRIFT_PSI,
        "trainings": dashboard.recent_trainings(),
        "live_url": reverse("admin:classifier_prediction_dashboard_live"),
        "days": dashboard.DAYS,
        "hours": dashboard.HOURS,
    }
    return TemplateResponse(request, "admin/classifier/dashboard.html", context)


def _confidence_chart(item: dashboard.VersionConfidence) -> dict:
    chart = line_chart({"confidence": [mean for _, mean, _ in item.days]}, y_min=0, y_max=1)
    labels = [date_format(day, "j M") for day, _, _ in item.days]
    for tick in chart["x_ticks"]:
        tick["label"] = labels[tick["label"] - 1]
    answers = sum(n for _, _, n in item.days)
    return {"version": item.version, "chart": chart, "psi": item.psi, "drifted": item.drifted, "answers": answers}


def _live(model_admin, request):
    context = {"depths": dashboard.queue_depths(), "workers": dashboard.workers()}
    return TemplateResponse(request, "admin/classifier/_dashboard_live.html", context)
