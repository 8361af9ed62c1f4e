"""napari-dynmri: dynamic (cine) MRI reconstruction, headless core and napari plugin.

The core (``physics``, ``io``, ``data``, ``metrics``, ``models``, ``losses``, ``training``,
``recon``) imports neither napari nor Qt; the plugin lives in ``_napari``.
"""

__version__ = "0.1.0"
