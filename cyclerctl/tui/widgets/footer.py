"""The key bar at the bottom of every screen, rebuilt only when its keys change."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """Textual's Footer rebuilds all its keys (a widget each, mounted and styled) whenever
    the screen says its bindings changed — which it says every time the screen comes back
    on top, keys unchanged. With a detail screen opened and closed, that rebuild was what a
    key waited behind (py-spy: FooterKey creation, _watch_compact, style updates, ~10% of
    the UI thread in bench/tui.py's key phase). Here it is rebuilt only when what it shows
    (key, description, action, enabled) is not what it shows already."""

    _showing: tuple[tuple[str, str, str, bool], ...] | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and screen is self.screen and screen.app.app_focus:
            showing = tuple(
                (binding.key, binding.description, binding.action, enabled)
                for _node, binding, enabled, _tooltip in screen.active_bindings.values()
                if binding.show
            )
            if showing == self._showing:
                self._bindings_ready = True
                return
            self._showing = showing
        super().bindings_changed(screen)
