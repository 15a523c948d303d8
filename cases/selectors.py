"""Reads that scope by user, join or aggregate."""

from django.db.models import QuerySet

from cases.models import Case


def cases_visible_to(user) -> QuerySet[Case]:
    """Every case for a user who may view cases; none for anyone else."""
    if not user.is_authenticated or not user.has_perm("cases.view_case"):
        return Case.objects.none()
    return Case.objects.all()
