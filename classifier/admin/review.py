"""The review queue: the admin decides which corrected photos become training data (classifier/review.py says
what is in it and in what order). Its list page is the queue; each item is accepted with a label, rejected or
skipped, one at a time (buttons and keyboard shortcuts, static/js/admin/review-queue.js) or in bulk; decided
items are listed apart, where a decision can be undone; and the accepted photos become a new frozen version of a
dataset ("New version from the review queue"). Staff with the right to change reviews; every change is a POST."""

from collections import Counter

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from trainer.datasets import DatasetRefused
from trainer.ml import OTHER
from trainer.models import ModelVersion

from ..actions import ReviewRefused, do_bulk_accept, do_derive_version_from_reviews, do_review, do_undo_review
from ..answers import VERDICT_CHOICE_NAMES
from ..forms import DeriveVersionForm
from ..models import Prediction, Review
from ..review import (
    LOW_MARGIN,
    accepted_for_training,
    decided_reviews,
    margin,
    predictions_in_order,
    review_queue,
    review_reasons,
    shown_photos,
)
from ..views import serve_heatmap, serve_image, serve_thumbnail
from .predictions import file_urls

PER_PAGE = 20
# The keys the queue's script answers, as the page lists them.
SHORTCUTS = [
    ("a", "accept the chosen label"),
    ("1–9", "choose a class"),
    ("0", "choose “none of these”"),
    ("r", "reject"),
    ("s", "skip (it goes to the end of the queue)"),
    ("j / k", "next / previous item"),
    ("x", "select the item for bulk accept"),
]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    """The review queue, in the admin's index as "Reviews"; there is no page per review."""

    def has_add_permission(self, request):
        return False  # a review is a decision taken in the queue

    def has_delete_permission(self, request, obj=None):
        return False  # undone in the queue's list of decided items

    def has_view_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)  # the queue is for deciding: no link for those who cannot

    def get_urls(self):
        view = self.admin_site.admin_view
        files = [("photo", serve_image), ("thumbnail", serve_thumbnail), ("heatmap", serve_heatmap)]
        return [
            path("", view(self.queue_view), name="classifier_review_changelist"),
            path("decided/", view(self.decided_view), name="classifier_review_decided"),
            path("decide/", view(self.decide_view), name="classifier_review_decide"),
            path("bulk-accept/", view(self.bulk_accept_view), name="classifier_review_bulk_accept"),
            path("undo/", view(self.undo_view), name="classifier_review_undo"),
            path("new-version/", view(self.derive_view), name="classifier_review_derive"),
            *file_urls(self, "classifier_review", files, self.has_change_permission, shown=shown_photos()),
        ]

    def _check(self, request):
        if not self.has_change_permission(request):
            raise PermissionDenied  # staff without the right to review

    def _context(self, request, title: str) -> dict:
        return {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title}

    # --- The queue -------------------------------------------------------------------------------------------

    @method_decorator(require_GET)
    def queue_view(self, request):
        self._check(request)
        class_name = request.GET.get("class", "")
        version_id = request.GET.get("version", "")
        version_id = int(version_id) if version_id.isdigit() else None
        queue = review_queue(class_name, version_id)
        page = Paginator(queue.ids, PER_PAGE).get_page(request.GET.get("page"))
        predictions = predictions_in_order(list(page.object_list))
        context = {
            **self._context(request, "Review queue"),
            "page": page,
            "items": _items(predictions),
            "count": len(queue.items),
            "withheld": queue.withheld,
            "low_margin": LOW_MARGIN,
            "class_name": class_name,
            "version_id": version_id,
            "class_choices": _class_choices(),
            "versions": ModelVersion.objects.filter(predictions__isnull=False).distinct().order_by("-created_at"),
            "back": request.get_full_path(),
            "query": _query({"class": class_name, "version": version_id or ""}),
            "shortcuts": SHORTCUTS,
            "decided_url": reverse("admin:classifier_review_decided"),
            **self._derive_context(request),
        }
        return TemplateResponse(request, "admin/classifier/review/queue.html", context)

    def _derive_context(self, request, form: DeriveVersionForm | None = None) -> dict:
        """What the "New version from the review queue" form says: what it would add, and what it leaves out."""
        accepted = list(accepted_for_training().values_list("label", flat=True))
        counts = Counter(accepted)
        all_accepted = Review.objects.filter(decision=Review.Decision.ACCEPTED)
        return {
            "accepted_counts": sorted(counts.items()),
            "accepted_total": len(accepted),
            "accepted_other": all_accepted.filter(label=OTHER).count(),
            "accepted_withdrawn": all_accepted.exclude(label=OTHER).count() - len(accepted),
            "derive_form": form or DeriveVersionForm(labels=set(counts)),
            "can_derive": request.user.has_perm("trainer.add_dataset"),
        }

    @method_decorator(require_POST)
    def decide_view(self, request):
        self._check(request)
        prediction = self._prediction(request)
        decision = request.POST.get("decision", "")
        try:
            do_review(prediction, decision, request.POST.get("label", ""), by=request.user)
        except ReviewRefused as refused:
            self.message_user(request, str(refused), messages.ERROR)
            return redirect(_back(request, anchor=prediction.pk))
        review = prediction.review
        said = f" as “{_label_words(review.label)}”" if review.label else ""
        self.message_user(request, f"{review.get_decision_display()} {prediction.original_name}{said}.")
        return redirect(_back(request, anchor=request.POST.get("next", "")))

    @method_decorator(require_POST)
    def bulk_accept_view(self, request):
        self._check(request)
        ids = [int(pk) for pk in request.POST.getlist("prediction") if pk.isdigit()]
        found = {p.pk: p for p in Prediction.objects.filter(pk__in=ids).select_related("owner", "feedback")}
        try:
            reviews = do_bulk_accept([found[pk] for pk in ids if pk in found], by=request.user)
        except ReviewRefused as refused:
            self.message_user(request, f"Nothing was accepted. {refused}", messages.ERROR)
            return redirect(_back(request))
        counts = Counter(_label_words(review.label) for review in reviews)
        listed = ", ".join(f"{n} as “{label}”" for label, n in sorted(counts.items()))
        self.message_user(request, f"Accepted {len(reviews)} photo{'s' if len(reviews) != 1 else ''}: {listed}.")
        return redirect(_back(request))

    @method_decorator(require_POST)
    def undo_view(self, request):
        self._check(request)
        prediction = self._prediction(request)
        if do_undo_review(prediction):
            self.message_user(request, f"{prediction.original_name} is back in the review queue.")
        else:
            self.message_user(request, f"{prediction.original_name} had no decision to undo.", messages.WARNING)
        return redirect(_back(request, default=reverse("admin:classifier_review_decided")))

    def _prediction(self, request) -> Prediction:
        pk = request.POST.get("prediction", "")
        return get_object_or_404(
            Prediction.objects.select_related("owner", "model_version", "feedback"), pk=int(pk) if pk.isdigit() else 0
        )

    # --- Decided items ---------------------------------------------------------------------------------------

    @method_decorator(require_GET)
    def decided_view(self, request):
        self._check(request)
        decision = request.GET.get("decision", "")
        if decision not in (Review.Decision.ACCEPTED, Review.Decision.REJECTED):
            decision = ""
        page = Paginator(decided_reviews(decision), PER_PAGE).get_page(request.GET.get("page"))
        counts = dict(decided_reviews().values_list("decision").annotate(n=Count("pk")).order_by())
        context = {
            **self._context(request, "Decided items"),
            "page": page,
            "decision": decision,
            "counts": counts,
            "total": sum(counts.values()),
            "query": _query({"decision": decision}),
            "back": request.get_full_path(),
            "queue_url": reverse("admin:classifier_review_changelist"),
        }
        return TemplateResponse(request, "admin/classifier/review/decided.html", context)

    # --- New version from the review queue -------------------------------------------------------------------

    @method_decorator(require_POST)
    def derive_view(self, request):
        self._check(request)
        if not request.user.has_perm("trainer.add_dataset"):
            raise PermissionDenied  # making a dataset is the right to add datasets
        reviews = list(accepted_for_training())
        form = DeriveVersionForm(request.POST, labels={review.label for review in reviews})
        if not form.is_valid():
            errors = " ".join(error for errors in form.errors.values() for error in errors)
            self.message_user(request, f"No version was made: {errors}", messages.ERROR)
            return redirect("admin:classifier_review_changelist")
        parent = form.cleaned_data["parent"]
        try:
            dataset = do_derive_version_from_reviews(parent, reviews, by=request.user, name=form.cleaned_data["name"])
        except DatasetRefused as refused:
            self.message_user(request, f"No version was made: {refused}", messages.ERROR)
            return redirect("admin:classifier_review_changelist")
        self.message_user(request, _derive_summary(dataset, self._derive_context(request)), messages.SUCCESS)
        if request.user.has_perm("trainer.view_dataset") or request.user.has_perm("trainer.change_dataset"):
            return redirect("admin:trainer_dataset_change", dataset.pk)
        return redirect("admin:classifier_review_changelist")


def _items(predictions: list[Prediction]) -> list[dict]:
    """The page's items, each naming the one after it (the item to look at once it is decided)."""
    following = [prediction.pk for prediction in predictions[1:]] + [None] if predictions else []
    return [{**_item(prediction), "next": after} for prediction, after in zip(predictions, following, strict=True)]


def _item(prediction: Prediction) -> dict:
    """One item of the queue as the page shows it."""
    feedback = prediction.feedback_label
    verdict = prediction.final_verdict
    # Ready for one key: the owner's label, else the model's answer (a class, or "none of these"); nothing for
    # "can't tell", which only a person can settle.
    chosen = feedback if feedback is not None else verdict if verdict in (*prediction.class_names, OTHER) else ""
    options = [(name, name) for name in prediction.class_names] + [(OTHER, VERDICT_CHOICE_NAMES[OTHER])]
    review = getattr(prediction, "review", None)
    return {
        "prediction": prediction,
        "reasons": review_reasons(prediction),
        "margin": margin(prediction.probabilities or {}),
        "probabilities": [(name, p * 100) for name, p in prediction.sorted_probabilities()],
        "feedback": feedback,
        "feedback_words": None if feedback is None else _label_words(feedback),
        "options": [
            {"value": value, "words": words, "key": "0" if value == OTHER else str(n + 1) if n < 9 else ""}
            for n, (value, words) in enumerate(options)
        ],
        "chosen": chosen,
        "skipped": review,
    }


def _query(filters: dict) -> str:
    """The filters in force as a query string to put "page=" after."""
    filters = {name: value for name, value in filters.items() if value}
    return f"{urlencode(filters)}&" if filters else ""


def _class_choices() -> list[str]:
    """The classes the queue can be filtered by: every version's, then "other"."""
    names = set()
    for class_names in ModelVersion.objects.values_list("class_names", flat=True):
        names.update(class_names or [])
    return [*sorted(names), OTHER]


def _label_words(label: str) -> str:
    return VERDICT_CHOICE_NAMES.get(label, label)


def _back(request, anchor="", default: str = "") -> str:
    """The queue page (or list) the form was on, at the item to look at next; never another site."""
    back = request.POST.get("back", "")
    queue = reverse("admin:classifier_review_changelist")
    if not (back.startswith(queue) and back.isprintable()):
        back = default or queue
    anchor = str(anchor)
    return f"{back.split('#')[0]}#item-{anchor}" if anchor.isdigit() else back


def _derive_summary(dataset, derive: dict) -> str:
    """What the new version added, and what it left out, and why, in words."""
    added = dataset.added.get("counts", {})
    words = ", ".join(f"{label}: {n}" for label, n in added.items())
    total = sum(added.values())
    lines = [f"Made {dataset}: {total} accepted photo{'s' if total != 1 else ''} added for training ({words})."]
    left_out = dataset.added.get("left_out", [])
    if left_out:
        reasons = Counter(item["reason"] for item in left_out)
        lines.append("Left out: " + "; ".join(f"{n} {reason}" for reason, n in reasons.items()) + ".")
    if derive["accepted_other"]:
        lines.append(f"{derive['accepted_other']} accepted as “None of these” are never a class's training photo.")
    if derive["accepted_withdrawn"]:
        lines.append(f"{derive['accepted_withdrawn']} whose owners no longer allow their use were left out.")
    return " ".join(lines)
