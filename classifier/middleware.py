"""More photos in one request than the parser takes: the documented message, not Django's bare 400 page.

Django's parser stops at DATA_UPLOAD_MAX_NUMBER_FILES (CATDOG_MAX_FILES_PER_UPLOAD) before storing any
file and raises TooManyFilesSent, which would otherwise reach the CSRF check first and end in the generic
"Bad request" page. Only the two upload URLs are parsed here; everything else is left to its view.
"""

from django.core.exceptions import TooManyFilesSent
from django.http import JsonResponse
from django.urls import reverse

from .forms import too_many_files_message


class TooManyFilesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.content_type == "multipart/form-data":
            page, api = reverse("classifier:upload"), reverse("api:prediction-list")
            if request.path in (page, api):
                try:
                    request.FILES  # noqa: B018 (parsed now, before the CSRF check reads the body)
                except TooManyFilesSent:
                    return self._refuse(request, api=request.path == api)
        return self.get_response(request)

    def _refuse(self, request, *, api: bool):
        if api:
            return JsonResponse({"image": [too_many_files_message()]}, status=400)
        if not request.user.is_authenticated:
            return self.get_response(request)  # the log-in redirect, as for any other page
        from .views import render_too_many_files

        return render_too_many_files(request)
