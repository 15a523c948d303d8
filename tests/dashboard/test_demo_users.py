import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command


@pytest.mark.django_db
def test_demo_users_creates_one_user_per_role_with_the_given_password(
    settings, monkeypatch, capsys
):
    settings.DEBUG = True
    monkeypatch.setenv("DEMO_PASSWORD", "demo-pass-123")

    call_command("demo_users")
    call_command("demo_users")  # idempotent

    User = get_user_model()
    assert (
        User.objects.filter(username__in=["analyst", "approver", "manager", "admin"]).count() == 4
    )
    assert authenticate(username="approver", password="demo-pass-123").has_perm(
        "cases.approve_action"
    )
    assert not User.objects.get(username="manager").has_perm("cases.work_case")
    assert User.objects.get(username="admin").is_superuser
    assert "demo-pass-123" in capsys.readouterr().out


@pytest.mark.django_db
def test_demo_users_generates_and_prints_a_password_when_none_is_given(
    settings, monkeypatch, capsys
):
    settings.DEBUG = True
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)

    call_command("demo_users")

    out = capsys.readouterr().out
    password = out.split("password for all: ")[1].split(")")[0]
    assert authenticate(username="analyst", password=password) is not None


@pytest.mark.django_db
def test_demo_users_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("demo_users")
