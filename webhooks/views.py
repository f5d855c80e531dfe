from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from .actions import do_create_webhook, do_delete_webhook, do_send_again
from .forms import WebhookForm
from .models import LOG_LENGTH, Delivery, Webhook


def _get_webhook_for_user(request, pk: int) -> Webhook:
    return get_object_or_404(Webhook, pk=pk, owner=request.user)


@require_http_methods(["GET", "POST"])
def webhooks(request):
    """The person's webhooks: register one (its secret shown once, on the answer to the POST), see them all."""
    form = WebhookForm(request.POST or None)
    context, status = {"form": form, "new_webhook": None}, 200
    if request.method == "POST":
        if form.is_valid():
            context |= {"new_webhook": do_create_webhook(request.user, form.cleaned_data["url"]), "form": WebhookForm()}
            status = 201
        else:
            status = 400
    context["webhooks"] = Webhook.objects.filter(owner=request.user)
    return render(request, "webhooks/list.html", context, status=status)


def webhook_detail(request, pk: int):
    webhook = _get_webhook_for_user(request, pk)
    deliveries = webhook.deliveries.all()[:LOG_LENGTH]
    return render(request, "webhooks/detail.html", {"webhook": webhook, "deliveries": deliveries})


@require_POST
def delete_webhook(request, pk: int):
    webhook = _get_webhook_for_user(request, pk)
    do_delete_webhook(webhook)
    messages.success(request, f"Deleted: nothing more is sent to {webhook.url}.")
    return redirect("webhooks:list")


@require_POST
def send_again(request, pk: int, delivery_pk: int):
    webhook = _get_webhook_for_user(request, pk)
    delivery = get_object_or_404(Delivery, pk=delivery_pk, webhook=webhook)
    do_send_again(delivery)
    messages.success(
        request, f"Sent again: {delivery.get_event_display().lower()}, prediction {delivery.prediction_id}."
    )
    return redirect("webhooks:detail", webhook.pk)
