"""The decisions feed and the ban list by cursor: what the account platform pulls instead of
(or beside) the webhook."""

from cases.enforcement.models import OutboxMessage
from cases.enforcement.services import (
    action_decide,
    action_propose,
    action_request_reversal,
    outbox_deliver,
)
from tests.factories import enforcement_terms

DECISIONS = "/api/v1/decisions/"
BANLIST = "/api/v1/banlist/"


def approve_ban(case, analyst, approver, kind="ban"):
    action = action_propose(
        **enforcement_terms(),
        case=case,
        by=analyst,
        kind=kind,
        reason="fleet",
        duration_days=30 if kind == "suspend" else None,  # a suspension needs a length
        # Every make_case names its accounts org-0, org-1, ...: shared organisations, so
        # look-alikes once there are three cases, and proposing them takes a reason.
        lookalike_reason="same fleet",
    )
    action_decide(action=action, by=approver, approve=True, comment="ok")
    outbox_deliver(message_id=action.outbox.get(backend="banlist").pk)
    return action


def test_a_client_pulls_new_decisions_by_cursor(decide_client, make_case, analyst, approver):
    empty = decide_client.get(DECISIONS).json()
    assert empty["results"] == [] and empty["next_cursor"] is None

    first = approve_ban(make_case(accounts=2), analyst, approver)
    page = decide_client.get(DECISIONS).json()
    assert [d["action_id"] for d in page["results"]] == [first.pk]
    decision = page["results"][0]
    assert decision["payload"] == OutboxMessage.objects.get(action=first, backend="banlist").payload
    assert decision["payload"]["action"] == "ban" and len(decision["payload"]["accounts"]) == 2
    assert decision["action_status"] == "executed"
    cursor = page["next_cursor"]

    # Nothing new: the same cursor comes back, to ask again later.
    idle = decide_client.get(DECISIONS, {"cursor": cursor}).json()
    assert idle["results"] == [] and idle["next_cursor"] == cursor

    second = approve_ban(make_case(accounts=1), analyst, approver, kind="suspend")
    reversal = action_request_reversal(action=first, by=analyst, reason="customer")
    action_decide(action=reversal, by=approver, approve=True, comment="agreed")
    rejected = action_propose(
        **enforcement_terms(),
        case=make_case(),
        by=analyst,
        kind="ban",
        reason="maybe",
        lookalike_reason="same fleet",
    )
    action_decide(action=rejected, by=approver, approve=False, comment="not enough")

    news = decide_client.get(DECISIONS, {"cursor": cursor}).json()
    assert [d["action_id"] for d in news["results"]] == [second.pk, reversal.pk]
    assert news["results"][1]["payload"]["platform_status"] == "active"
    assert news["results"][1]["payload"]["reverses"]["action_id"] == first.pk


def test_the_feed_pages_and_the_last_page_keeps_its_cursor(
    decide_client, make_case, analyst, approver
):
    actions = [approve_ban(make_case(accounts=1), analyst, approver) for _ in range(3)]
    seen, cursor = [], ""
    while True:
        page = decide_client.get(DECISIONS, {"cursor": cursor, "limit": 2}).json()
        seen += [d["action_id"] for d in page["results"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert seen == [a.pk for a in actions]
    assert cursor is not None


def test_the_settle_window_holds_back_the_newest_decisions(
    decide_client, make_case, analyst, approver, settings
):
    approve_ban(make_case(accounts=1), analyst, approver)
    settings.API_FEED_SETTLE_SECONDS = 3600
    assert decide_client.get(DECISIONS).json()["results"] == []


def test_the_ban_list_feed_shows_listings_then_their_lifting(
    decide_client, make_case, analyst, approver
):
    action = approve_ban(make_case(accounts=2), analyst, approver)
    page = decide_client.get(BANLIST).json()
    assert {e["account_id"] for e in page["results"]} == set(
        action.accounts.values_list("account_id", flat=True)
    )
    assert all(e["in_force"] and e["platform_status"] == "banned" for e in page["results"])
    cursor = page["next_cursor"]
    assert decide_client.get(BANLIST, {"cursor": cursor}).json()["results"] == []

    reversal = action_request_reversal(action=action, by=analyst, reason="customer")
    action_decide(action=reversal, by=approver, approve=True, comment="agreed")
    outbox_deliver(message_id=reversal.outbox.get(backend="banlist").pk)

    lifted = decide_client.get(BANLIST, {"cursor": cursor}).json()["results"]
    assert len(lifted) == 2 and not any(e["in_force"] for e in lifted)
    assert all(e["lifted_at"] for e in lifted)


def test_feeds_need_the_decide_scope_and_a_real_cursor(read_client, decide_client):
    assert read_client.get(DECISIONS).status_code == 403
    assert read_client.get(BANLIST).status_code == 403
    assert decide_client.get(DECISIONS, {"cursor": "nonsense"}).status_code == 400
    assert decide_client.get(BANLIST, {"cursor": "x~y"}).status_code == 400
    assert decide_client.get(DECISIONS, {"limit": "0"}).status_code == 400
