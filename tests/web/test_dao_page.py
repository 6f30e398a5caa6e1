"""The DAO page in a real browser (Debian's chromium): a campaign fractionalised on anvil, a proposal
made, then voted, queued and executed from the page; a vote before voting opens and a second vote are
refused by name; a read-only token sees no form and its forged post is 403; no CSP violation or
console error; the page fits 375 px in either direction."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mintloom.api.app import create_app
from mintloom.api.runs import PASSWORD_ENV
from mintloom.governance import dao
from mintloom.governance.licenses import resolve_terms
from mintloom.store.tokens import TokenStore
from mintloom.studio import Studio
from tests.cli.runs import party
from tests.conftest import PASSWORD
from tests.governance import test_dao
from tests.governance.test_dao import FAN, mine
from tests.web.test_studio_browser import log_in, serving, shot, watch

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.xdist_group("anvil")
anchored = test_dao.anchored
"""The fixture: campaign c1 run and anchored on the shared anvil node, not published."""
REWARD = 10**17


def fits_phone(page: Page, direction: str) -> bool:
    page.evaluate(f"document.documentElement.dir = {direction!r}")
    page.set_viewport_size({"width": 375, "height": 800})
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.evaluate("document.documentElement.dir = 'ltr'")
    return bool(width <= 375)


def family(s: Studio) -> dao.Proposal:
    """c1 fractionalised (1000 shares, 300 to a fan who delegates) and one proposal that spends nothing."""
    dao.create_family(s.chain, s.db, "c1", "Spring", supply=1000, terms_id=resolve_terms("commercial-remix"))
    fan = party(s, FAN)
    dao.transfer_shares(s.chain, fan.address, 300 * 10**18)
    dao.delegate(fan)
    plan = dao.Plan(reward_wei=REWARD, creator_cap=2)
    return dao.propose(s.chain, dao.plan_actions(s.chain, plan))


def state_of(page: Page, number: int) -> str:
    return str(page.locator(f'.proposal[data-number="{number}"] [data-state]').get_attribute("data-state"))


def click_and_wait(page: Page, name: str) -> str:
    page.get_by_role("button", name=name).first.click()
    page.wait_for_url(lambda u: "done=" in u or "refused=" in u)
    return page.url


def test_vote_queue_and_execute_from_the_dao_page(
    browser_page: Page,
    anchored: Studio,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = anchored
    proposal = family(s)
    token = TokenStore(s.db).create("governor", ["read", "admin"])[1]
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    page = browser_page
    problems = watch(page)
    with serving(create_app(s)) as url:
        log_in(page, url, token, "/studio/dao")
        text = page.locator("main").inner_text()
        assert "DAO: Spring" in text and "pay 0.1 ETH per verified derivative" in text
        assert "cap per creator at 2 reward(s) per epoch" in text and "c1" in text
        assert state_of(page, 1) == "pending"

        click_and_wait(page, "Vote for")  # voting opens one block after the proposal
        assert "ProposalStateError" in page.get_by_role("alert").inner_text()
        assert s.chain.call("CreativeGovernor", "hasVoted", proposal.proposal_id, s.chain.address) is False

        mine(s, 2)
        page.goto(url + "/studio/dao")
        assert state_of(page, 1) == "active"
        page.get_by_label("Reason").fill("grow the remix scene")
        click_and_wait(page, "Vote for")
        assert "voted for on #1" in page.get_by_role("status").inner_text()
        assert "For 700 · against 0" in page.locator(".proposal").inner_text()
        assert page.get_by_role("button", name="Vote for").count() == 0  # this account voted
        dao.vote(party(s, FAN), "1", "against")
        assert fits_phone(page, "ltr") and fits_phone(page, "rtl")
        shot(page, tmp_path, "dao")

        mine(s, 25)
        page.goto(url + "/studio/dao")
        assert state_of(page, 1) == "succeeded"
        click_and_wait(page, "Queue")
        assert state_of(page, 1) == "queued" and "queued #1" in page.get_by_role("status").inner_text()
        click_and_wait(page, "Execute")  # the timelock delay has not passed
        assert "ProposalStateError" in page.get_by_role("alert").inner_text()
        mine(s, 1, seconds=61)
        page.goto(url + "/studio/dao")
        click_and_wait(page, "Execute")
        assert state_of(page, 1) == "executed"
    reward, cap, *_ = s.chain.call("UGCRewards", "parameters")
    assert (reward, cap) == (REWARD, 2)
    assert problems == [], problems


def test_a_read_only_token_sees_no_form_and_cannot_post_one(
    browser_page: Page,
    anchored: Studio,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = anchored
    proposal = family(s)
    mine(s, 2)
    token = TokenStore(s.db).create("reader", ["read"])[1]
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    page = browser_page
    problems = watch(page)
    with serving(create_app(s)) as url:
        log_in(page, url, token, "/studio/dao")
        assert state_of(page, 1) == "active" and "Read only" in page.locator("main").inner_text()
        assert page.locator("form[action^='/studio/dao/']").count() == 0
        csrf = page.locator("form.logout input[name=csrf]").get_attribute("value")
        form = {"csrf": csrf or "", "proposal": f"0x{proposal.proposal_id:064x}", "support": "for"}
        forged = page.request.post(url + "/studio/dao/vote", form=form, max_redirects=0)
        assert forged.status == 403 and "admin" in forged.text()
        no_csrf = page.request.post(url + "/studio/dao/vote", form={**form, "csrf": "x"}, max_redirects=0)
        assert no_csrf.status == 403
    assert s.chain.call("CreativeGovernor", "hasVoted", proposal.proposal_id, s.chain.address) is False
    assert problems == [], problems
