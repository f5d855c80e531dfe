"""The site's pages for signed-in people, one module per subject: the upload page and a prediction's page
(pages.py), the history (history_page.py), and the files a prediction has (files.py); who may see what, access.py.
classifier/urls.py routes to them; the admin and the API serve files through files.py too."""

from .files import heatmap, image, serve_heatmap, serve_image, serve_thumbnail, thumbnail
from .history_page import HISTORY_PAGE_SIZE, bulk_delete, history, history_export
from .pages import delete, detail, detail_updates, feedback, history_updates, render_too_many_files, retry, upload

__all__ = [
    "HISTORY_PAGE_SIZE",
    "bulk_delete",
    "delete",
    "detail",
    "detail_updates",
    "feedback",
    "heatmap",
    "history",
    "history_export",
    "history_updates",
    "image",
    "render_too_many_files",
    "retry",
    "serve_heatmap",
    "serve_image",
    "serve_thumbnail",
    "thumbnail",
    "upload",
]
