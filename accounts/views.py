from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .forms import SignUpForm
from .ratelimits import rate_limit


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
