"""Socket Mode reaches the same listeners: a real websocket link to a local Socket Mode endpoint."""

from __future__ import annotations

from pathlib import Path

from bot.app import Application
from bot.config import Settings
from tests.conftest import TODAY
from tests.slack_stub import SlackStub
from tests.socket_stub import SocketModeStub


def test_slash_command_over_socket_mode(demo_store: tuple[Path, Path]) -> None:
    stub = SlackStub().start()
    socket = SocketModeStub().start()
    stub.socket_url = socket.url
    env = {"COSTBOT_DATA_DIR": str(demo_store[0]), "COSTBOT_TODAY": TODAY, "SLACK_BOT_TOKEN": "xoxb-test",
           "SLACK_APP_TOKEN": "xapp-test", "SLACK_API_URL": stub.api_url}
    application = Application(Settings(env))
    handler = application.socket_mode_handler(application.slack_app(socket_mode=True), "xapp-test")
    try:
        handler.connect()
        assert socket.connected.wait(10)
        opened = stub.api_calls("apps.connections.open")
        assert opened and opened[0].headers["authorization"] == "Bearer xapp-test"
        socket.send({
            "envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": True,
            "payload": {"command": "/cost", "text": "team-ml lastweek", "user_id": "U0ML00001",
                        "channel_id": "C111", "team_id": "T111", "response_url": stub.response_url("sm1"),
                        "trigger_id": "1.2.3"},
        })
        assert socket.wait_for_ack("env-1")["envelope_id"] == "env-1"
        socket.send({
            "envelope_id": "env-2", "type": "slash_commands", "accepts_response_payload": True,
            "payload": {"command": "/cost", "text": "team-ml last-week", "user_id": "U0ML00001",
                        "channel_id": "C111", "team_id": "T111", "response_url": stub.response_url("sm2"),
                        "trigger_id": "1.2.4"},
        })
        socket.wait_for_ack("env-2")
        stub.wait_for(lambda cs: {c.name for c in cs if c.kind == "response"} >= {"sm1", "sm2"})
        error = stub.responses("sm1")[0].args["blocks"][0]["text"]["text"]
        assert "unknown word 'lastweek'" in error
        answer = stub.responses("sm2")[0].args
        assert answer["response_type"] == "ephemeral"
        assert answer["blocks"][0]["text"]["text"] == "team-ml · last-week"
    finally:
        handler.close()
        socket.stop()
        stub.stop()
        application.close()
