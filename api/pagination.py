"""Keyset paging for the API, on the console's own cursor rules (``cases.paging``).

``?cursor=`` is the sort key of the last row already read; the next page is read from where
that row sits in the index, so page 1,000 costs what page 2 does and rows added meanwhile
are neither skipped nor repeated. ``?limit=`` is capped at ``MAX_LIMIT``. No counts.
"""

from django.db import connections
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from cases.paging import decode_cursor, encode_cursor, seek_conditions, sort_keys


class KeysetPagination(pagination.BasePagination):
    cursor_param = "cursor"
    limit_param = "limit"
    default_limit = 50
    MAX_LIMIT = 200
    # A feed (decisions, the ban list) hands back a cursor even on its last page: the client
    # keeps it and asks again later for what came after.
    feed = False

    def _limit(self, request) -> int:
        text = request.query_params.get(self.limit_param)
        if text in (None, ""):
            return self.default_limit
        try:
            limit = int(text)
        except ValueError:
            raise ValidationError({self.limit_param: "a whole number"}) from None
        if not 1 <= limit <= self.MAX_LIMIT:
            raise ValidationError({self.limit_param: f"between 1 and {self.MAX_LIMIT}"})
        return limit

    def paginate_queryset(self, queryset, request, view=None):
        keys = view.sort_keys(queryset) if hasattr(view, "sort_keys") else sort_keys(queryset)
        if keys is None:
            raise RuntimeError(f"{type(view).__name__}: its ordering cannot be paged by key")
        self.request = request
        limit = self._limit(request)
        cursor = request.query_params.get(self.cursor_param) or ""
        rows: list = []
        if cursor:
            values = decode_cursor(keys, cursor)
            if values is None:
                raise ValidationError({self.cursor_param: "not a cursor of this listing"})
            nulls_largest = connections[queryset.db].features.nulls_order_largest
            for condition in seek_conditions(
                keys, values, forward=True, nulls_largest=nulls_largest
            ):
                rows += queryset.filter(condition)[: limit + 1 - len(rows)]
                if len(rows) > limit:
                    break
        else:
            rows = list(queryset[: limit + 1])
        self.has_more = len(rows) > limit
        rows = rows[:limit]
        if rows and (self.has_more or self.feed):
            self.next_cursor = encode_cursor(keys, rows[-1])
        else:
            self.next_cursor = cursor if self.feed and cursor else None
        return rows

    def get_paginated_response(self, data):
        next_url = None
        if self.next_cursor:
            next_url = replace_query_param(
                self.request.build_absolute_uri(), self.cursor_param, self.next_cursor
            )
        return Response(
            {
                "next_cursor": self.next_cursor,
                "next": next_url,
                "has_more": self.has_more,
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next_cursor", "next", "has_more", "results"],
            "properties": {
                "next_cursor": {
                    "type": "string",
                    "nullable": True,
                    "description": "Pass as ?cursor= to read on; null when there is no more.",
                },
                "next": {"type": "string", "format": "uri", "nullable": True},
                "has_more": {"type": "boolean"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_param,
                "in": "query",
                "required": False,
                "description": "The next_cursor of the previous page (opaque: only a value "
                "this endpoint handed out; any other is refused with 400).",
                "schema": {"type": "string"},
            },
            {
                "name": self.limit_param,
                "in": "query",
                "required": False,
                "description": f"Rows per page, 1 to {self.MAX_LIMIT}.",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.MAX_LIMIT,
                    "default": self.default_limit,
                },
            },
        ]


class FeedPagination(KeysetPagination):
    feed = True
    default_limit = 100
    MAX_LIMIT = 1000

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"]["next_cursor"]["description"] = (
            "Keep it and pass it as ?cursor= next time: only what came after is returned. "
            "Null only while the feed has nothing yet."
        )
        return response
