from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from .actions import (
    AccountDeletionRefused,
    do_create_api_key,
    do_delete_account,
    do_revoke_api_key,
    do_set_corrections_consent,
)
from .forms import ApiKeyForm, CorrectionsConsentForm, DeleteAccountForm, SignUpForm
from .models import ApiKey, Profile
from .ratelimits import check_log_in, count_failed_log_in, rate_limit, too_many_requests


@login_not_required
@require_http_methods(["GET", "POST"])
@rate_limit("sign-up", key="ip", rate_setting="CATDOG_RATELIMIT_SIGNUP_PER_IP")
def signup(request):
    if request.user.is_authenticated:
        return redirect("classifier:upload")
    form = SignUpForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "registration/signup.html", {"form": form}, status=400)
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("classifier:upload")
    return render(request, "registration/signup.html", {"form": form})


class LogOutView(auth_views.LogoutView):
    """Log out, and say so on the page that follows (the log-in page)."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You are logged out.")
        return response


@require_http_methods(["GET", "POST"])
def account_settings(request):
    """The person's settings: whether their corrected photos may be used to improve the model. Showing the page
    writes nothing (a person without a profile sees the defaults); saving creates it."""
    if request.method == "POST":
        form = CorrectionsConsentForm(request.POST)
        form.is_valid()  # a checkbox: absent means off, anything else on; nothing to refuse
        allowed = form.cleaned_data["corrections_may_be_used"]
        do_set_corrections_consent(request.user, allowed)
        if allowed:
            messages.success(request, "Saved: the photos you corrected may be used to improve the model.")
        else:
            messages.success(request, "Saved: the photos you corrected will not be used to improve the model.")
        return redirect("account_settings")
    profile = Profile.objects.filter(user=request.user).first()
    allowed = bool(profile and profile.corrections_may_be_used)
    form = CorrectionsConsentForm(initial={"corrections_may_be_used": allowed})
    return render(request, "accounts/settings.html", {"form": form, "profile": profile, "allowed": allowed})


@require_http_methods(["GET", "POST"])
def api_keys(request):
    """The person's API keys: make one (shown once, on the answer to the POST), see them all. Showing writes nothing."""
    form = ApiKeyForm(request.POST or None)
    context = {"form": form, "new_key": None}
    status = 200
    if request.method == "POST":
        if form.is_valid():
            api_key, key = do_create_api_key(request.user, form.cleaned_data["name"], form.expires_at)
            context |= {"new_key": key, "new_api_key": api_key, "form": ApiKeyForm()}
            status = 201
        else:
            status = 400
    context["keys"] = ApiKey.objects.filter(user=request.user)
    return render(request, "accounts/api_keys.html", context, status=status)


@require_POST
def revoke_api_key(request, pk: int):
    api_key = get_object_or_404(ApiKey, pk=pk, user=request.user)
    if do_revoke_api_key(api_key):
        messages.success(request, f"Revoked: the key “{api_key.name}” no longer works.")
    return redirect("api_keys")


def delete_account(request):
    """Delete one's own account and everything in it, once its password is given. A wrong password counts as a
    failed log-in for the account (the log-in limits apply), so an open session cannot be used to guess it."""
    if request.method == "GET":
        return render(request, "accounts/delete.html", {"form": DeleteAccountForm(request.user)})
    form = DeleteAccountForm(request.user, request.POST)
    username = request.user.get_username()
    wait = check_log_in(request, username)
    if wait:
        return too_many_requests(request, wait)
    if not form.is_valid():
        count_failed_log_in(request, username)
        return render(request, "accounts/delete.html", {"form": form}, status=400)
    try:
        do_delete_account(request.user)
    except AccountDeletionRefused as error:
        return render(request, "accounts/delete.html", {"form": form, "refused": str(error)}, status=400)
    logout(request)
    messages.success(request, f"The account {username} and everything in it were deleted.")
    return redirect("login")
