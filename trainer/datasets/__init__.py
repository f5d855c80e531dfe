"""Bringing labelled images into a Dataset, from a zip archive, a folder on the server or a list of URLs,
and reading a ready one back for training.

Every source ends in `Collection.add` (collection.py): the image is checked by content exactly as a
user's upload is (trainer/images.py), kept once per content hash, stored through Django's storage API
under datasets/<dataset id>/<label>/<sha256>.<ext>, and counted in the report the admin page shows.
`collect` (ingest.py) reads a dataset's source: zips.py, folders.py or urls.py (downloads through
fetching.py, the client that connects to public addresses only). Training reads a ready dataset back
with `materialize` (for_training.py): a dataset version's frozen split as two trees, training and test.

No TensorFlow here: the web process imports this package for the admin form's checks.
"""

from .collection import Collection, DatasetRefused, folder_images_sha256
from .folders import check_server_folder
from .for_training import frozen_test_sha256, materialize, materialize_test_photos
from .ingest import INGEST_TIME_LIMIT_SECONDS, collect
from .urls import parse_url_list

__all__ = [
    "INGEST_TIME_LIMIT_SECONDS",
    "Collection",
    "DatasetRefused",
    "check_server_folder",
    "collect",
    "folder_images_sha256",
    "frozen_test_sha256",
    "materialize",
    "materialize_test_photos",
    "parse_url_list",
]
