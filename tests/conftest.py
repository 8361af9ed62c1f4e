"""Fixtures shared by test files."""

import pytest


@pytest.fixture
def napari_notifications():
    """napari notifications shown during the test, as a list of ``(severity, message)`` pairs."""
    from napari.utils.notifications import notification_manager

    seen = []

    def record(notification):
        seen.append((str(notification.severity), notification.message))

    notification_manager.notification_ready.connect(record)
    yield seen
    notification_manager.notification_ready.disconnect(record)
