"""`costbot playground`: a local web page that stands in for a Slack workspace with costbot in it.

The real app runs behind it (the same Bolt listeners, use cases and renderers as `costbot serve --http`): the
playground sends it signed slash commands, button clicks and App Home events, and answers the Web API calls
it makes. `workspace.py` is the Slack side's state and Web API, `signing.py` the signed requests, `server.py`
the page, its JSON routes and the wiring, `static/` the page itself (plain HTML, CSS and a script).
"""
