"""Matplotlib figures docked in napari, drawn in the colours of the viewer's theme."""

from __future__ import annotations

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from napari.utils.theme import get_theme


def themed_canvas(viewer, height_px: int = 240) -> FigureCanvasQTAgg:
    """A Qt canvas holding an empty figure with the viewer theme's background; at least ``height_px`` tall."""
    theme = get_theme(viewer.theme)
    figure = Figure(figsize=(6, height_px / 100), layout="constrained", facecolor=theme.background.as_hex())
    canvas = FigureCanvasQTAgg(figure)
    canvas.setMinimumHeight(height_px)
    return canvas


def theme_text_colour(viewer) -> str:
    """The viewer theme's text colour (hex): for markers that must not look like a data series."""
    return get_theme(viewer.theme).text.as_hex()


def style_axes(axes, viewer) -> None:
    """Colour ``axes`` (background, frame, ticks, labels, title) like the viewer theme."""
    theme = get_theme(viewer.theme)
    text = theme_text_colour(viewer)
    axes.set_facecolor(theme.foreground.as_hex())
    axes.tick_params(colors=text, labelsize=7)
    for spine in axes.spines.values():
        spine.set_color(theme.primary.as_hex())
    axes.xaxis.label.set_color(text)
    axes.yaxis.label.set_color(text)
    axes.title.set_color(text)
