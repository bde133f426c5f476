"""`costbot playground` in a real headless Chromium: the demo loop clicked through the page (ask, Chart, Share, fast
forward, Stop, Approve, Undo, App Home), with a screenshot of each step in the test's output folder. The figures
are worked out from the demo CSV here; the resource's state is read by another application on the same state
database, as a separate process would see it."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.app import Application
from bot.config import Settings
from bot.domain.resources import ResourceRef
from bot.playground.server import USAGE_HINT, Playground
from tests.conftest import CliResult

playwright_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs `pip install playwright`")

ANALYST, APPROVER = "U0ANALYST", "U0ML00001"  # no approvals / team-ml's approver in the demo config
CHROMIUM = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium", shutil.which("chromium-browser"))
                 if p and Path(p).exists()), None)


def demo_total(csv_path: Path, team: str, start: str, end: str) -> str:
    """A team's EffectiveCost over [start, end), from the CSV, as costbot shows money."""
    with csv_path.open(newline="") as fh:
        cost = sum((Decimal(r["EffectiveCost"]) for r in csv.DictReader(fh)
                    if start <= r["ChargePeriodStart"][:10] < end and json.loads(r["Tags"]).get("team") == team),
                   Decimal(0))
    return f"${cost.quantize(Decimal('0.01')):,}"


def state_of(name: str) -> str:
    application = Application(Settings())
    try:
        provider = application.providers["demo"]
        ref = next(r.ref for r in provider.list_resources() if r.name == name)
        found = provider.describe(ResourceRef.parse(ref.key))  # the live state, as an action re-checks it
        assert found is not None
        return found.state
    finally:
        application.close()


@pytest.fixture
def playground(cli: Callable[..., CliResult]) -> Iterator[Playground]:
    assert cli("demo").code == 0
    running = Playground(lambda values: Application(Settings().with_values(values)), "127.0.0.1", 0).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine: install Debian's `chromium` (.ci/run does it with apt-get)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 860})
            tab.set_default_timeout(90_000)  # waiting limits, not timings: a loaded machine is slow
            playwright_api.expect.set_options(timeout=90_000)
            yield tab
        finally:
            browser.close()


def message(page: Any, text: str) -> Any:
    return page.locator("article.msg", has_text=text).last


def click(page: Any, msg: Any, label: str, confirm: str | None = None) -> None:
    msg.get_by_role("button", name=label, exact=True).click()
    if confirm is not None:
        page.locator("#confirm").get_by_role("button", name=confirm, exact=True).click()


def test_the_demo_loop_in_a_browser(playground: Playground, page: Any, data_dir: Path, tmp_path: Path) -> None:
    expect = playwright_api.expect
    shots = tmp_path / "screenshots"
    shots.mkdir()
    total = demo_total(data_dir / "demo" / "focus-demo.csv", "ml", "2026-11-16", "2026-11-23")
    page.goto(playground.url)
    expect(page.locator("#channels button").first).to_have_text("# team-ml")
    expect(page.locator("#person")).to_have_value(ANALYST)

    # ask: the slash command's hint as Slack shows it, then the answer only the asker sees, to the cent
    page.locator("#box").fill("/co")
    expect(page.locator("#hint")).to_be_visible()
    expect(page.locator("#hint-usage")).to_have_text(USAGE_HINT)
    page.locator("#box").press("Tab")
    expect(page.locator("#box")).to_have_value("/cost ")
    page.locator("#box").type("team-ml last-week")
    page.locator("#box").press("Enter")
    answer = message(page, "team-ml · last-week")
    expect(answer).to_contain_text(total)
    expect(answer).to_contain_text("Only visible to you")
    expect(answer.locator(".block-header")).to_have_text("team-ml · last-week")
    page.screenshot(path=shots / "1-ask.png")

    # Chart: the PNG goes to the asker's DM with costbot (files.getUploadURLExternal, the upload, completeUpload)
    click(page, answer, "Chart")
    expect(message(page, "The chart is in your DM")).to_be_visible()
    page.locator("#apps button").click()
    chart = page.locator("figure.file img").last
    expect(chart).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 600", arg=chart.element_handle())
    expect(page.locator("figure.file figcaption").last).to_contain_text("team-ml")
    page.locator(".calls summary").click()  # what costbot called, newest first
    expect(page.locator("#calls li").first).to_have_text("files.completeUploadExternal")
    expect(page.locator("#calls")).to_contain_text("conversations.open")
    page.screenshot(path=shots / "2-chart.png")

    # Share: the same answer, now in the channel for everyone
    page.locator("#channels button", has_text="team-ml").click()
    click(page, message(page, "team-ml · last-week"), "Share in channel")
    shared = message(page, "shared by @Alex (analyst)")
    expect(shared).to_contain_text(total)
    expect(shared.locator(".only-you")).to_have_count(0)

    # fast forward: the scan posts team-ml's idle GPU box; the analyst (no approvals) asks to stop it
    page.locator("#fast-forward").click()
    expect(page.locator("#status")).to_contain_text("scan")
    recommendation = message(page, "Ways to save · team-ml")
    expect(recommendation).to_contain_text("gpu-dev-02")
    gpu_box = recommendation.locator(".section:has-text('gpu-dev-02') + .actions")  # its buttons
    click(page, gpu_box, "Stop", confirm="Stop")
    expect(message(page, "waiting for an approver")).to_contain_text("Only visible to you")
    request = message(page, "asks to stop gpu-dev-02")
    expect(request).to_contain_text("@Alex (analyst) asks to stop gpu-dev-02")
    expect(request.get_by_role("button", name="Approve", exact=True)).to_be_visible()
    assert state_of("gpu-dev-02") == "running"
    page.screenshot(path=shots / "3-approval-request.png")

    # the approver approves: the request message is updated in place and the box is stopped in the provider
    page.locator("#person").select_option(APPROVER)
    expect(page.locator("#person-role")).to_contain_text("approves team-ml")
    expect(page.locator("article.msg.ephemeral")).to_have_count(0)  # the analyst's private answers are theirs
    expect(message(page, "shared by @Alex (analyst)")).to_contain_text(total)
    request.get_by_role("button", name="Approve", exact=True).focus()  # from the keyboard: Enter, then Enter
    page.keyboard.press("Enter")
    expect(page.locator("#confirm-ok")).to_be_focused()
    expect(page.locator("#confirm-title")).to_have_text("Approve?")
    page.keyboard.press("Enter")
    expect(message(page, "stopped gpu-dev-02").locator(".only-you")).to_be_visible()
    expect(request.locator(".edited")).to_be_visible()
    expect(request.get_by_role("button", name="Approve", exact=True)).to_have_count(0)
    assert state_of("gpu-dev-02") == "stopped"
    page.screenshot(path=shots / "4-approved.png")

    # Undo, offered on the updated recommendation, starts it again
    expect(recommendation).to_contain_text("stopped gpu-dev-02")
    click(page, recommendation, "Undo", confirm="Undo")  # only the stopped box offers Undo
    expect(message(page, "started gpu-dev-02")).to_be_visible()
    assert state_of("gpu-dev-02") == "running"
    page.screenshot(path=shots / "5-undone.png")

    # fast forward also ran the anomaly alerts: team-vision's runaway training job, with its buttons
    page.locator("#channels button", has_text="team-vision").click()
    alert = message(page, "against a usual")
    expect(alert).to_contain_text("team-vision")
    expect(alert.get_by_role("button", name="Acknowledge (expected)", exact=True)).to_be_visible()
    click(page, alert, "Acknowledge (expected)")
    expect(message(page, "Acknowledged by")).to_be_visible()

    # App Home: the app's views.publish, rendered
    page.locator("#apps button").click()
    page.locator("#tab-home").click()
    expect(page.locator("#home .block-header").first).to_have_text("Your cloud spend")
    expect(page.locator("#home")).to_contain_text("team-ml")
    page.screenshot(path=shots / "6-app-home.png")
    page.locator("#home").get_by_role("button", name="Last week", exact=True).first.click()  # answers in the DM
    page.locator("#tab-messages").click()
    expect(message(page, "Why it changed").last).to_be_visible()

    # the phone-sized window: the same channel, readable
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#channels button", has_text="team-ml").click()
    expect(page.locator("#box")).to_be_in_viewport()  # the message box stays on screen; the messages scroll
    expect(page.locator("#messages article.msg").last).to_be_in_viewport()
    page.screenshot(path=shots / "7-phone.png")
    assert sorted(p.name for p in shots.iterdir()) == ["1-ask.png", "2-chart.png", "3-approval-request.png",
                                                        "4-approved.png", "5-undone.png", "6-app-home.png",
                                                        "7-phone.png"]


def test_every_block_costbot_may_send_is_drawn(playground: Playground, page: Any) -> None:
    """A message with each Block Kit block and mrkdwn form, posted through the Web API as costbot would: drawn as
    Slack draws it, and text stays text (no markup from a message reaches the page)."""
    from slack_sdk import WebClient

    expect = playwright_api.expect
    client = WebClient(token=playground.bot_token, base_url=f"{playground.local_url}/api/")
    posted = client.chat_postMessage(channel="#team-vision", text="fallback", blocks=[
        {"type": "header", "text": {"type": "plain_text", "text": "Header <b>plain</b>"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*bold* _italic_ ~gone~ `code` <@U0ML00001> "
                                                              "<https://example.com/x|a link> a &lt;b&gt; :zzz:"},
         "fields": [{"type": "mrkdwn", "text": "*Field one*"}, {"type": "plain_text", "text": "field two"}]},
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "context &lt;img src=x onerror=alert(1)&gt; "
                                                                    "<img src=y onerror=alert(2)>"}]},
        {"type": "image", "image_url": "/favicon.svg", "alt_text": "the logo"},
        {"type": "actions", "block_id": "acts", "elements": [
            {"type": "button", "action_id": "costbot_help_all", "text": {"type": "plain_text", "text": "Go"},
             "style": "primary", "value": "v",
             "confirm": {"title": {"type": "plain_text", "text": "Sure?"},
                         "text": {"type": "mrkdwn", "text": "*Really*"},
                         "confirm": {"type": "plain_text", "text": "Yes"},
                         "deny": {"type": "plain_text", "text": "No"}}},
        ]},
    ])
    assert posted["ok"]
    page.goto(playground.url)
    page.locator("#channels button", has_text="team-vision").click()
    msg = page.locator(f"article.msg[data-ts='{posted['ts']}']")
    expect(msg.locator(".block-header")).to_have_text("Header <b>plain</b>")
    section = msg.locator(".section .content > .text").first
    expect(section.locator("strong")).to_have_text("bold")
    expect(section.locator("em")).to_have_text("italic")
    expect(section.locator("s")).to_have_text("gone")
    expect(section.locator("code")).to_have_text("code")
    expect(section.locator(".mention")).to_have_text("@team-ml approver")
    expect(section.locator("a")).to_have_attribute("href", "https://example.com/x")
    expect(section).to_contain_text("a <b> 💤")
    expect(msg.locator(".fields .text")).to_have_count(2)
    expect(msg.locator(".fields strong")).to_have_text("Field one")
    expect(msg.locator("hr.divider")).to_have_count(1)
    # escaped text is shown as text; an unescaped tag is a Slack control sequence, drawn as its words; neither runs
    expect(msg.locator(".context")).to_have_text("context <img src=x onerror=alert(1)> img src=y onerror=alert(2)")
    expect(msg.locator(".context img")).to_have_count(0)
    expect(msg.locator(".blockimg img")).to_have_attribute("alt", "the logo")
    go = msg.get_by_role("button", name="Go", exact=True)
    expect(go).to_have_class("btn primary")
    go.click()
    expect(page.locator("#confirm-title")).to_have_text("Sure?")
    expect(page.locator("#confirm-text strong")).to_have_text("Really")
    page.locator("#confirm-deny").click()  # No: nothing is sent
    expect(page.locator("#confirm")).not_to_be_visible()
    go.click()
    page.locator("#confirm-ok").click()  # Yes: the click reaches costbot, whose All commands answer comes back
    expect(message(page, "Everything you can ask")).to_contain_text("Only visible to you")
    expect(page.locator("article.msg", has_text="Everything you can ask")).to_have_count(1)  # No sent nothing
