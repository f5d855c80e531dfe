"""The history: a person's predictions, filtered, ordered and paged; their CSV export; deleting several."""

from datetime import date, timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from ..actions import (
    do_delete_predictions,
)
from ..answers import VERDICT_CHOICE_NAMES
from ..forms import HISTORY_SORTS, BulkDeleteForm, HistoryFilterForm
from ..history_csv import history_csv
from ..models import FEEDBACK_FILTERS, Prediction, local_midnight, verdict_choices
from .access import is_history_page

HISTORY_PAGE_SIZE = 24


@require_GET
def history(request):
    filters, unknown_verdict, list_form, choices = _list_filters(request)
    predictions = _history_predictions(request.user, filters).select_related("model_version", "feedback")
    paginator = Paginator(predictions, HISTORY_PAGE_SIZE)
    number = request.GET.get("page", "1")
    if not number.isdigit() or int(number) < 1:
        raise Http404("No such page of the history.")
    if int(number) > paginator.num_pages:  # e.g. photos were deleted since: the last page, under its own URL
        return redirect(_with_query(reverse("classifier:history"), {**filters, "page": paginator.num_pages}))
    page = paginator.page(number)
    pending = any(not prediction.is_finished for prediction in page.object_list)
    poll_url = _with_query(reverse("classifier:history-updates"), filters) if pending else None
    context = {
        "page": page,
        "poll_url": poll_url,
        "filter_query": urlencode(filters),
        "export_url": _with_query(reverse("classifier:history-export"), filters),
        "return_to": request.get_full_path(),
        "unknown_verdict": unknown_verdict,
        "list_form": list_form,
        "narrowed": any(name != "sort" for name in filters),
        "list_errors": errors_of(list_form),
        "sort_name": HISTORY_SORTS[filters.get("sort", "newest")],
        **filter_context(request.user, filters, choices),
    }
    # A filter that makes no sense is refused (400) with its reason; the list shows the photos without it.
    return render(request, "classifier/history.html", context, status=400 if context["list_errors"] else 200)


@require_GET
def history_export(request):
    """The history as CSV, with the page's filters and order: streamed, so any length fits in little memory."""
    filters, _, list_form, _ = _list_filters(request)
    if not list_form.is_valid():
        return HttpResponseBadRequest("\n".join(errors_of(list_form)), content_type="text/plain; charset=utf-8")
    predictions = _history_predictions(request.user, filters)
    response = StreamingHttpResponse(history_csv(predictions), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="catdog-history-{stamp}.csv"'
    return response


def _list_filters(request) -> tuple[dict[str, str], str, HistoryFilterForm, list[str]]:
    """What the page and its CSV export both show: the filters by answer and feedback, then status, days and order
    (those the form found valid); the verdict asked for that no answer can have; the form; the verdict choices."""
    choices = verdict_choices(request.user)
    filters, unknown_verdict = history_filters(request, choices)
    list_form = HistoryFilterForm(request.GET)
    return filters | list_form.query(), unknown_verdict, list_form, choices


def errors_of(form) -> list[str]:
    return [message for messages_ in form.errors.values() for message in messages_]


def _history_predictions(user, filters: dict[str, str]):
    """`user`'s predictions that pass the history's `filters` (checked already), in the order asked for."""
    predictions = Prediction.objects.filter(owner=user)
    if "label" in filters:
        predictions = predictions.filter(label=filters["label"])
    if "verdict" in filters:
        predictions = predictions.with_verdict(filters["verdict"])
    if "feedback" in filters:
        predictions = predictions.with_feedback(filters["feedback"])
    if "status" in filters:
        predictions = predictions.filter(status=filters["status"])
    if "since" in filters:
        predictions = predictions.filter(created_at__gte=local_midnight(date.fromisoformat(filters["since"])))
    if "until" in filters:
        predictions = predictions.filter(
            created_at__lt=local_midnight(date.fromisoformat(filters["until"]) + timedelta(1))
        )
    sort = filters.get("sort", "newest")
    if sort == "oldest":
        return predictions.order_by("created_at", "id")
    if sort == "confidence":
        return predictions.order_by(F("confidence").desc(nulls_last=True), "-created_at", "-id")
    return predictions


def _with_query(url: str, query: dict) -> str:
    return f"{url}?{urlencode(query)}" if query else url


def history_filters(request, choices: list[str]) -> tuple[dict[str, str], str]:
    """The history's filters from its URL (`label`, the top class; `verdict`; `feedback`, "any" or "disagrees"),
    and a verdict no answer of this person can have, if one was asked for: the page then shows everything and
    says so (no 404 for a filter that an old link or a retired model version left behind). An unknown
    `feedback` is ignored."""
    filters = {name: request.GET[name] for name in ("label", "verdict", "feedback") if request.GET.get(name)}
    if filters.get("feedback") not in (None, *FEEDBACK_FILTERS):
        del filters["feedback"]
    if "verdict" in filters and filters["verdict"] not in choices:
        return {key: value for key, value in filters.items() if key != "verdict"}, filters["verdict"]
    return filters, ""


def filter_context(user, filters: dict[str, str], choices: list[str]) -> dict:
    """What the history's filter chips show (classifier/history_filters.html): each verdict with its count."""
    counts = Prediction.objects.filter(owner=user).verdict_counts()
    chips = [
        {
            "value": value,
            "name": VERDICT_CHOICE_NAMES.get(value, value),
            "kind": value if value in VERDICT_CHOICE_NAMES else "class",
            "count": counts.get(value, 0),
        }
        for value in choices
    ]
    owned = Prediction.objects.filter(owner=user)
    feedback_chips = [
        {"value": value, "name": name, "count": owned.with_feedback(value).count()}
        for value, name in FEEDBACK_FILTERS.items()
    ]
    return {
        "chips": chips if counts or "verdict" in filters or "feedback" in filters else [],
        "feedback_chips": feedback_chips if feedback_chips[0]["count"] or "feedback" in filters else [],
        "label": filters.get("label", ""),
        "verdict": filters.get("verdict", ""),
        "feedback": filters.get("feedback", ""),
        "feedback_name": FEEDBACK_FILTERS.get(filters.get("feedback", ""), ""),
    }


@require_POST
def bulk_delete(request):
    """Delete the photos selected on a history page: first a page listing them (nothing deleted), then, once
    confirmed there, the photos and their files. Only the person's own: another's id counts as missing."""
    form = BulkDeleteForm(request.POST)
    back = request.POST.get("next", "")
    back = back if is_history_page(back) else reverse("classifier:history")
    if not form.is_valid():
        context = {"errors": errors_of(form), "back": back}
        return render(request, "classifier/bulk_delete.html", context, status=400)
    chosen = Prediction.objects.filter(owner=request.user, pk__in=form.cleaned_data["ids"])
    if not form.cleaned_data["confirmed"]:
        if not chosen.exists():
            context = {"errors": ["None of the selected photos exists any more."], "back": back}
            return render(request, "classifier/bulk_delete.html", context, status=404)
        return render(request, "classifier/bulk_delete.html", {"chosen": chosen, "back": back})
    deleted = do_delete_predictions(request.user, form.cleaned_data["ids"])
    messages.success(request, f"Deleted {deleted} photo{'s' if deleted != 1 else ''}.")
    return redirect(back)
