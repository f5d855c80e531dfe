from django.contrib.auth import views as auth_views
from django.urls import path

from . import views
from .forms import ChangePasswordForm
from .ratelimits import limit_log_ins

# Only the account pages the site offers: there is no e-mail, so no password-reset pages.
urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("settings/", views.account_settings, name="account_settings"),
    path("keys/", views.api_keys, name="api_keys"),
    path("keys/<int:pk>/revoke/", views.revoke_api_key, name="revoke_api_key"),
    path("delete/", views.delete_account, name="delete_account"),
    path("login/", limit_log_ins(auth_views.LoginView.as_view()), name="login"),
    path("logout/", views.LogOutView.as_view(), name="logout"),
    path(
        "password_change/", auth_views.PasswordChangeView.as_view(form_class=ChangePasswordForm), name="password_change"
    ),
    path("password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
]
