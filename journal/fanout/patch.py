"""The one patch: let an engine.io server choose the class of the sockets it creates.

python-engineio 4.15.1 builds every socket as `socket.Socket(self, sid)` inside
`Server._handle_connect` (engineio/server.py), through the module it imported as `socket`, and has
no factory; Flask-SocketIO creates the engine.io server itself, so a subclass cannot be passed in
either. `apply()` replaces that module reference with a stand-in whose `Socket(server, sid)` calls
`server.socket_class(server, sid)` when the server has one and engine.io's own Socket otherwise,
so a server that sets nothing behaves exactly as before. Upstream, this is a `socket_class`
attribute on engineio.Server.
"""

from importlib.metadata import version

import engineio.server
import engineio.socket

# The versions this package is written and tested against (pinned in requirements.txt).
TESTED = {
    "python-engineio": "4.15.1",
    "python-socketio": "5.18.1",
    "flask-socketio": "5.7.0",
    "gevent": "26.9.0",
    "gevent-websocket": "0.10.1",
}


def untested_versions() -> list[str]:
    """The installed libraries whose version differs from the tested one."""
    installed = {name: version(name) for name in TESTED}
    differ = [name for name, want in TESTED.items() if installed[name] != want]
    return [f"{name} {installed[name]} (tested {TESTED[name]})" for name in differ]


class _SocketModule:
    """engineio.socket as engineio.server sees it, except that Socket honours server.socket_class."""

    patched = True

    def __getattr__(self, name: str) -> object:
        return getattr(engineio.socket, name)

    @staticmethod
    def Socket(server: engineio.Server, sid: str) -> engineio.socket.Socket:  # noqa: N802 - engine.io's name
        factory = getattr(server, "socket_class", None)
        return factory(server, sid) if factory else engineio.socket.Socket(server, sid)


def apply() -> None:
    """Install the hook once per process (idempotent)."""
    if not getattr(engineio.server.socket, "patched", False):
        engineio.server.socket = _SocketModule()
