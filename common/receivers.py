"""Django signal receivers of the shared plumbing (connected in ``CommonConfig.ready``)."""

import time

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from common.auth import AUTHENTICATED_AT
from common.middleware import IdleSessionMiddleware


@receiver(user_logged_in)
def session_stamped_on_login(sender, request, user, **kwargs):
    """A login writes the session anyway: stamp it as used (so the requests right after it
    do not write it again, IdleSessionMiddleware) and as freshly authenticated."""
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[IdleSessionMiddleware.KEY] = now
        request.session[AUTHENTICATED_AT] = now
