"""The napari plugin: a thin shell over the headless core.

Readers, sample data and dock widgets (Undersample, Reconstruct, Compare, Export, x-t profile) are
contributed through ``napari.yaml``; every widget calls core functions (``physics``, ``recon``,
``metrics``, ``io``, ``edges``) and adds new layers, never changing its inputs' data (Compare
records the metrics of each result in that layer's metadata, where Export finds them). Long work runs
in napari thread workers; the widgets dock as tabs (``_docking``).
"""
