"""The napari plugin: a thin shell over the headless core.

Readers, sample data and dock widgets (Undersample, Reconstruct, Compare, Export, x-t profile) are
contributed through ``napari.yaml``; every widget calls core functions (``physics``, ``recon``,
``metrics``, ``io``, ``losses.edges``) and adds new layers, never changing its inputs.
"""
