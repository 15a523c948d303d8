"""Hooks other apps connect to, so that detection never has to name them.

These are Django signals in the framework's sense; in this project "signal" alone means a
detection signal (``detection.signals``), hence the name of this module.

``run_succeeded``: a run started with ``detection_run_start`` has succeeded on the workers and
its scores and campaigns are committed. Sent with ``sender=DetectionRun`` and ``run`` (the
``DetectionRun``) by the finalise task, at least once: a finalise task redelivered after its
worker was lost sends it again, so a hook lost with the worker is not lost for good. A
receiver must therefore be idempotent, and should only enqueue its work (``delay_on_commit``)
rather than do it inside detection's task. A run executed in the caller's own process
(``detection_run_execute``, the ``detect`` command) sends nothing: it returns the finished run
to a caller that is still there to do what follows.
"""

from django.dispatch import Signal

run_succeeded = Signal()
