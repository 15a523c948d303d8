"""The Redis cache's serializer: JSON, not Django's default pickle.

A pickled value runs code when it is read back, so with pickle anyone who can write to Redis
(which the Celery broker shares) could run code in the web processes. What the console
caches is lists, dicts, strings and numbers, which JSON keeps exactly; integers are stored
bare, as Django's own serializer stores them, so ``cache.incr`` still works.
"""

import json


class JSONSerializer:
    def dumps(self, obj):
        if type(obj) is int:
            return obj
        return json.dumps(obj, separators=(",", ":")).encode()

    def loads(self, data):
        try:
            return int(data)
        except ValueError:
            return json.loads(data)
