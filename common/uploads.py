"""A size limit on uploaded files, applied while the request body is read.

Django writes an upload past ``FILE_UPLOAD_MAX_MEMORY_SIZE`` to a temporary file, so memory
stays flat, but nothing stops the disk filling: this handler, first in
``FILE_UPLOAD_HANDLERS``, stops reading a file once it passes ``UPLOAD_MAX_BYTES`` and marks the
request (``request.upload_too_large``), so the view can say why the file is missing.
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload


def upload_limit() -> int:
    return int(settings.UPLOAD_MAX_BYTES)


class SizeLimitUploadHandler(FileUploadHandler):
    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > upload_limit():
            self.request.upload_too_large = True
            # Read and drop the rest of the body, so the browser gets the page that says
            # why rather than a reset connection.
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int):
        return None  # the handlers after this one keep the file
